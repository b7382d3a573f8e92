"""Load a user's Python file as a module and find its tasks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click


def module_name_for(path: Path) -> tuple[str, Path]:
    """Dotted module name for ``path`` and the folder to put on ``sys.path`` (walks up packages)."""
    path = path.resolve()
    parts = [path.stem]
    root = path.parent
    while (root / "__init__.py").is_file():
        parts.insert(0, root.name)
        root = root.parent
    return ".".join(parts), root


def load_file(file: str, verbose: int = 0) -> ModuleType:
    path = Path(file)
    if not path.is_file():
        raise click.ClickException(f"File '{file}' does not exist" if not path.exists() else f"'{file}' is not a file")
    if path.suffix != ".py":
        raise click.ClickException(f"'{file}' is not a Python file (.py)")
    name, root = module_name_for(path)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    existing = sys.modules.get(name)
    existing_file = getattr(existing, "__file__", None)
    if existing is not None and existing_file and Path(existing_file).resolve() == path.resolve():
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise click.ClickException(f"Cannot load '{file}' as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(name, None)
        if verbose:
            raise
        raise click.ClickException(f"Could not import '{file}': {type(e).__name__}: {e}") from None
    return module


def find_tasks(module: ModuleType) -> dict[str, Any]:
    from flyte._task import TaskTemplate

    found: dict[str, Any] = {}
    for attr, value in vars(module).items():
        if isinstance(value, TaskTemplate):
            found[attr] = value
    return found


def find_task(module: ModuleType, file: str, name: str) -> Any:
    tasks = find_tasks(module)
    if name in tasks:
        return tasks[name]
    for t in tasks.values():
        if name in (t.name, t.short_name):
            return t
    available = ", ".join(sorted(tasks)) or "none"
    raise click.ClickException(f"No task '{name}' in {file}. Tasks there: {available}")
