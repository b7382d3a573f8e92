"""Image building: the builder interface and the machinery that picks and drives a builder.

Heavy parts load on first use: ``from flyte.images import build_images`` imports nothing from
docker, podman or httpx until an image is actually checked or built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte._lazy import lazy_getattr

if TYPE_CHECKING:
    from flyte.images.build import BuildResult, build_image, build_images
    from flyte.images.builder import ImageBuilder
    from flyte.images.select import get_builder

_LAZY = {
    "build_images": "flyte.images.build",
    "build_image": "flyte.images.build",
    "BuildResult": "flyte.images.build",
    "ImageBuilder": "flyte.images.builder",
    "get_builder": "flyte.images.select",
}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


__all__ = ["BuildResult", "ImageBuilder", "build_image", "build_images", "get_builder"]
