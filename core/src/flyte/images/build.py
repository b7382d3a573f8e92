"""Build what is missing: hash each image, ask the registry, build and push only the new ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from flyte.images.config import load_image_config
from flyte.images.errors import BuilderUnavailableError, ImageBuildError
from flyte.images.registry import manifest_exists
from flyte.images.select import get_builder

if TYPE_CHECKING:
    from flyte._image import Image
    from flyte.images.builder import ImageBuilder

Status = Literal["base", "checking", "exists", "local", "building", "built", "pushed", "failed"]


@dataclass(frozen=True)
class BuildResult:
    """What happened to one image: ``base`` (used as is), ``exists`` (found in the registry, not
    rebuilt), ``local`` (not pushing, and the engine already has it: not rebuilt), ``built`` (built
    locally, not pushed) or ``pushed``."""

    uri: str
    status: Status
    image: Image


def resolve_registry(image: Image, registry: str | None = None) -> Image:
    """The image with its push registry filled in from ``registry`` or ``image.registry`` config."""
    if image.registry or not image.needs_build:
        return image
    if registry is None:
        registry = load_image_config().registry
    return image.clone(registry=registry) if registry else image


def build_image(
    image: Image,
    builder: ImageBuilder | _Checked,
    *,
    push: bool = True,
    registry: str | None = None,
    on_output: Callable[[str], None] | None = None,
    on_status: Callable[[str, Status], None] | None = None,
) -> BuildResult:
    """Build one image unless its registry already has it; see :func:`build_images`."""
    image = resolve_registry(image, registry)
    status = on_status or (lambda uri, s: None)
    if not image.needs_build:
        status(image.uri, "base")
        return BuildResult(image.uri, "base", image)
    image.validate()
    uri = image.uri
    if push:
        if not image.registry:
            raise ImageBuildError(
                f"no registry to push {uri} to: set image.registry in .flyte/config.yaml, FLYTE_IMAGE_REGISTRY, "
                "or Image.clone(registry=...)",
                uri=uri,
            )
        status(uri, "checking")
        if builder.exists(uri):
            status(uri, "exists")
            return BuildResult(uri, "exists", image)
    # the engine must be there before anything is reported as building (a missing daemon is not a failed build)
    _ensure_available(builder)
    if not push:
        status(uri, "checking")
        if builder.exists_locally(uri):
            status(uri, "local")
            return BuildResult(uri, "local", image)
    status(uri, "building")
    try:
        out = builder.build(image, push=push, on_output=on_output)
    except Exception:
        status(uri, "failed")
        raise
    final: Status = "pushed" if push else "built"
    status(out, final)
    return BuildResult(out, final, image)


def build_images(
    images: Iterable[Image],
    builder: str | ImageBuilder | None = None,
    push: bool = True,
    *,
    registry: str | None = None,
    on_output: Callable[[str, str], None] | None = None,
    on_status: Callable[[str, Status], None] | None = None,
    builder_options: dict[str, object] | None = None,
) -> list[BuildResult]:
    """Make sure every image exists in its registry; return one result per distinct image.

    ``builder`` is a name (``docker``, ``podman``), an instance, or ``None`` for the configured
    one. Images the registry already has are not rebuilt; a registry that cannot be asked is an
    error, never taken as "exists". ``on_output(uri, line)`` receives build logs, ``on_status(uri,
    status)`` each step; ``builder_options`` go to the builder's constructor (``network``, ``base_url``).

    Example::

        from flyte.images import build_images
        [r.uri for r in build_images([env.image], builder="docker")]
    """
    pending: dict[Image, Image] = {}
    for img in images:
        pending.setdefault(img, img)  # equal specs are built once
    chosen: ImageBuilder | None = None if isinstance(builder, (str, type(None))) else builder
    results = []
    for img in pending.values():
        if chosen is None and img.needs_build:
            chosen = get_builder(builder if isinstance(builder, str) else None, check=False, **(builder_options or {}))
        uri_holder = {"uri": ""}

        def _status(uri: str, s: Status, _h: dict[str, str] = uri_holder) -> None:
            _h["uri"] = uri
            if on_status:
                on_status(uri, s)

        def _out(line: str, _h: dict[str, str] = uri_holder) -> None:
            if on_output:
                on_output(_h["uri"], line)

        results.append(
            build_image(img, _Checked(chosen), push=push, registry=registry, on_output=_out, on_status=_status)
        )
    return results


def _ensure_available(builder: ImageBuilder | _Checked) -> None:
    if isinstance(builder, _Checked):
        builder.ensure_available()
        return
    why = builder.check_available()
    if why is not None:
        raise BuilderUnavailableError(f"image builder '{builder.name}' cannot run here: {why}")


class _Checked:
    """Checks that the builder can run here only when something actually has to be built, so that
    finding every image in its registry needs no engine."""

    def __init__(self, inner: ImageBuilder | None) -> None:
        self.inner = inner
        self._available = False

    def exists(self, uri: str) -> bool:
        if self.inner is None:
            return manifest_exists(uri)
        return self.inner.exists(uri)

    def ensure_available(self) -> None:
        assert self.inner is not None
        if self._available:
            return
        why = self.inner.check_available()
        if why is not None:
            raise BuilderUnavailableError(f"image builder '{self.inner.name}' cannot run here: {why}")
        self._available = True

    def exists_locally(self, uri: str) -> bool:
        assert self.inner is not None
        return self.inner.exists_locally(uri)

    def build(self, image: Image, *, push: bool, on_output: Callable[[str], None] | None) -> str:
        assert self.inner is not None
        self.ensure_available()
        return self.inner.build(image, push=push, on_output=on_output)
