"""Errors of image building. Each names the image, registry or builder it is about."""

from __future__ import annotations

from flyte.errors import FlyteError
from flyte.images.layers import ImageSpecError


class ImageBuildError(FlyteError):
    """A build failed. ``step`` is the Dockerfile instruction that failed, ``log`` the build output."""

    def __init__(self, message: str, *, uri: str | None = None, step: str | None = None, log: str = "",
                 summary: str | None = None) -> None:
        self.uri = uri
        self.step = step
        self.log = log
        self.summary = summary or message
        """The message without the build output (for callers that already showed the log)."""
        super().__init__(message)


class BuilderUnavailableError(FlyteError):
    """The chosen builder cannot run here (no socket, no daemon, binary missing)."""


class RegistryError(FlyteError):
    """A registry could not be asked whether an image exists, or refused a push."""

    def __init__(self, message: str, *, registry: str | None = None) -> None:
        self.registry = registry
        super().__init__(message)


class RegistryUnreachableError(RegistryError):
    """The registry did not answer, or answered with a server error."""


class RegistryAuthError(RegistryError):
    """The registry refused the credentials (or needs some and none were found)."""


__all__ = [
    "BuilderUnavailableError",
    "ImageBuildError",
    "ImageSpecError",
    "RegistryAuthError",
    "RegistryError",
    "RegistryUnreachableError",
]
