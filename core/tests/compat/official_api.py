"""Print the official SDK's public API as JSON: {module: {"names": [...]} or {"error": "..."}}.

Run with the official SDK's Python: ``$FLYTE_OFFICIAL_PYTHON official_api.py``. Modules are ``flyte``
and its public top-level submodules; names are a module's ``__all__``, else what it defines itself
(classes and functions whose ``__module__`` is the module, and UPPER_CASE constants); plus the public
attributes of a few classes (``flyte.Image``, ``flyte.TaskEnvironment``) under their dotted name.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import sys


def public_names(module_name: str) -> list[str]:
    mod = importlib.import_module(module_name)
    names = getattr(mod, "__all__", None)
    if names is not None:
        return sorted(set(names))
    out = []
    for n, obj in vars(mod).items():
        if n.startswith("_") or inspect.ismodule(obj):
            continue
        constant = n.isupper() and not callable(obj) and n != "TYPE_CHECKING"
        if getattr(obj, "__module__", None) == module_name or constant:
            out.append(n)
    return sorted(out)


CLASSES = ("flyte.Image", "flyte.TaskEnvironment")


def main() -> None:
    import flyte

    modules = ["flyte"] + sorted(
        f"flyte.{m.name}" for m in pkgutil.iter_modules(flyte.__path__) if not m.name.startswith("_")
    )
    api: dict[str, dict[str, object]] = {}
    for m in modules:
        try:
            api[m] = {"names": public_names(m)}
        except Exception as e:  # a module needing an extra (flyte.connectors needs grpc)
            api[m] = {"error": f"{type(e).__name__}: {e}"}
    for cls_name in CLASSES:  # classes whose methods programs call a lot: their public attributes, as "modules"
        cls = getattr(flyte, cls_name.split(".", 1)[1])
        api[cls_name] = {"names": sorted(n for n in dir(cls) if not n.startswith("_"))}
    api["__version__"] = {"names": [flyte.__version__]}
    json.dump(api, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
