"""Module attributes resolved on first use, so that importing a package costs almost nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, table: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` and caches the attribute in ``namespace``.

    Example (in a package ``__init__``)::

        __getattr__ = lazy_getattr(__name__, {"TypeEngine": "flyte.types._engine"}, globals())
    """

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            if name.startswith("__"):
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            from flyte._compat import missing

            raise missing(package, name)  # an official SDK name we lack says so, pointing at the docs
        import importlib

        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
