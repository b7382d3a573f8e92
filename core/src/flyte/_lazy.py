"""Module attributes resolved on first use, so that importing a package costs almost nothing."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any


def is_submodule(package: str, name: str) -> bool:
    """Whether ``package.name`` is a module on disk (a file or a folder in the package's path)."""
    for base in getattr(sys.modules.get(package), "__path__", ()):
        where = os.path.join(base, name)
        if os.path.exists(where + ".py") or os.path.isdir(where):
            return True
    return False


def lazy_getattr(package: str, table: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` and caches the attribute in ``namespace``.

    Example (in a package ``__init__``)::

        __getattr__ = lazy_getattr(__name__, {"TypeEngine": "flyte.types._engine"}, globals())
    """

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            if name.startswith("__") or is_submodule(package, name):
                # `from package import submodule` asks for the attribute before importing the submodule:
                # answer plainly, without loading the compatibility table (start-up time of `flyte --help`).
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            from flyte._compat import missing

            raise missing(package, name)  # an official SDK name we lack says so, pointing at the docs
        import importlib

        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
