"""The image builder interface.

A builder drives one engine (Docker Engine API, Podman API, a remote build service). The
Dockerfile, the build context and the content-hashed tag come from core
(:mod:`flyte.images.dockerfile`, :mod:`flyte.images.hashing`); the builder builds, pushes and
reports. :func:`flyte.images.build_images` decides what to build: it never asks a builder to
build an image whose URI the registry already has.
"""

from __future__ import annotations

import abc
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from flyte.images.buildlog import BuildLog, host_platform, network_option
from flyte.images.credentials import Credentials, credentials_for, split_reference
from flyte.images.dockerfile import stage_context
from flyte.images.errors import ImageBuildError
from flyte.images.registry import manifest_exists

if TYPE_CHECKING:
    from flyte._image import Image

OutputCallback = Callable[[str], None]


class ImageBuilder(abc.ABC):
    """Builds :class:`flyte.Image` specs into pushed images.

    Subclasses set ``name`` and implement :meth:`check_available` and :meth:`build`;
    :meth:`exists` asks the registry directly and rarely needs overriding. A builder that drives a
    container engine's API subclasses :class:`EngineBuilder`, which does the build's common steps. Options given to the
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

    def cancel(self) -> None:
        """Called from another thread when the caller gives up (Ctrl-C) while :meth:`build` runs on a
        worker thread: stop what can be stopped (the remote builder aborts its build run). By default
        nothing: the build runs to its end."""
        return None

    # -- helpers for subclasses -------------------------------------------------------------------

    @staticmethod
    def credentials(uri: str) -> Credentials | None:
        """Credentials for the registry ``uri`` is pushed to (flyte config, then Docker config)."""
        return credentials_for(split_reference(uri)[0])


@dataclass(frozen=True)
class BuildRequest:
    """One build for :meth:`EngineBuilder.build_context`: the staged context and what to pass the engine."""

    uri: str  #: the tag to give the image
    context: Path  #: a temporary folder holding exactly the files that were hashed, and the Dockerfile
    dockerfile: str  #: the Dockerfile's name inside ``context``
    platform: str | None  #: ``linux/arm64``... when it is not the host's, else ``None``
    network: str | None  #: network for ``RUN`` steps (the ``network`` option), else the engine's default
    timeout: float  #: seconds an engine call may stay silent


class EngineBuilder(ImageBuilder):
    """Base of the builders that drive a container engine's API (``docker``, ``podman``).

    :meth:`build` does what such builds share: one platform at a time, the ``network`` option,
    a temporary build context holding exactly what the image hash covers
    (:func:`flyte.images.dockerfile.stage_context`), any engine error turned into an
    :class:`~flyte.images.errors.ImageBuildError` naming the failing step with its last output
    lines, and the push. A subclass implements :meth:`build_context` and :meth:`push`.

    Options: ``timeout`` (seconds an engine call may stay silent, default 1800: a build step may be
    quiet for long), ``network`` (for ``RUN`` steps, e.g. ``none``).
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.timeout = float(options.get("timeout", 1800))

    @abc.abstractmethod
    def build_context(self, request: BuildRequest, log: BuildLog) -> None:
        """Build ``request.context`` with the engine, tagging ``request.uri``; pass output to ``log.add``.

        Raise ``log.failure(uri, message)`` for an error the engine reports; any other exception is
        turned into one by :meth:`build`."""

    @abc.abstractmethod
    def push(self, uri: str, log: BuildLog) -> None:
        """Push ``uri`` with :meth:`credentials`; raise :func:`flyte.images.buildlog.push_error` on a refusal."""

    def build(self, image: Image, *, push: bool = True, on_output: OutputCallback | None = None) -> str:
        uri = image.uri
        log = BuildLog(on_output)
        if len(image.platform) > 1:
            raise ImageBuildError(
                f"{uri}: the {self.name} builder builds one platform at a time, got {image.platform}", uri=uri
            )
        platform = image.platform[0] if image.platform[0] != host_platform() else None
        ctx = Path(tempfile.mkdtemp(prefix="flyte-build-"))
        try:
            dockerfile = stage_context(image, ctx)
            request = BuildRequest(uri, ctx, dockerfile.name, platform, network_option(self.options), self.timeout)
            try:
                self.build_context(request, log)
            except ImageBuildError:
                raise
            except Exception as e:
                raise log.failure(uri, f"{type(e).__name__}: {e}") from e
        finally:
            shutil.rmtree(ctx, ignore_errors=True)
        if push:
            self.push(uri, log)
        return uri
