"""The image builder interface.

A builder drives one engine (Docker Engine API, Podman API, a remote build service). The
Dockerfile, the build context and the content-hashed tag come from core
(:mod:`flyte.images.dockerfile`, :mod:`flyte.images.hashing`); the builder builds, pushes and
reports. :func:`flyte.images.build_images` decides what to build: it never asks a builder to
build an image whose URI the registry already has.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from flyte._image import Image
    from flyte.images.credentials import Credentials

OutputCallback = Callable[[str], None]


class ImageBuilder(abc.ABC):
    """Builds :class:`flyte.Image` specs into pushed images.

    Subclasses set ``name`` and implement :meth:`check_available` and :meth:`build`;
    :meth:`exists` asks the registry directly and rarely needs overriding. Options given to the
    constructor (a socket URL, a timeout) are the builder's own; with none it finds its engine
    from the environment (``DOCKER_HOST``, ``CONTAINER_HOST``, the default sockets).

    Example::

        class MyBuilder(ImageBuilder):
            name = "mine"

            def check_available(self):
                return None  # or a reason it cannot run here

            def build(self, image, *, push=True, on_output=None):
                ...
                return image.uri
    """

    name: ClassVar[str]

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abc.abstractmethod
    def check_available(self) -> str | None:
        """``None`` when this builder can run here, otherwise why not (no socket, no daemon)."""

    def exists(self, uri: str) -> bool:
        """Whether ``uri`` is already in its registry. Raises if the check itself fails."""
        from flyte.images.registry import manifest_exists

        return manifest_exists(uri)

    def exists_locally(self, uri: str) -> bool:
        """Whether the engine already holds ``uri`` (used when not pushing). ``False`` if unknown."""
        return False

    @abc.abstractmethod
    def build(self, image: Image, *, push: bool = True, on_output: OutputCallback | None = None) -> str:
        """Build (and push) ``image``; return the image URI. ``on_output`` receives build log lines.

        Raises :class:`flyte.images.errors.ImageBuildError` naming the failing step with its
        output, and :class:`flyte.images.errors.RegistryError` when the push is refused.
        """

    # -- helpers for subclasses -------------------------------------------------------------------

    @staticmethod
    def credentials(uri: str) -> Credentials | None:
        """Credentials for the registry ``uri`` is pushed to (flyte config, then Docker config)."""
        from flyte.images.credentials import credentials_for, split_reference

        return credentials_for(split_reference(uri)[0])
