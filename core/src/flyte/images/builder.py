"""The image builder interface."""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from flyte._image import Image


class ImageBuilder(abc.ABC):
    """Builds :class:`flyte.Image` specs into pushed images.

    Example::

        class MyBuilder(ImageBuilder):
            name = "mine"

            def check_available(self):
                return None  # or a reason it cannot run here

            def exists(self, uri):
                ...

            def build(self, image, *, push=True, on_output=None):
                ...
                return uri
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def check_available(self) -> str | None:
        """``None`` when this builder can run here, otherwise why not (no socket, no daemon)."""

    @abc.abstractmethod
    def exists(self, uri: str) -> bool:
        """Whether ``uri`` is already in its registry. Raise if the check itself fails."""

    @abc.abstractmethod
    def build(self, image: Image, *, push: bool = True, on_output: Callable[[str], None] | None = None) -> str:
        """Build (and push) ``image``; return the image URI. ``on_output`` receives build log lines."""
