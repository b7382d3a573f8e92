"""Install hints name only distributions that exist, and each one registers the name it is hinted for."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest
from flyte.plugins.manager import KNOWN_PROVIDERS, PluginManager

ROOT = Path(__file__).resolve().parents[3]


def _workspace_distributions() -> dict[str, Path]:
    """``project.name`` -> folder, for every pyproject the workspace installs (as dev.py's distributions())."""
    found = [ROOT / "core" / "pyproject.toml"]
    found += sorted((ROOT / "plugins").glob("*/*/pyproject.toml"))
    found += sorted((ROOT / "examples" / "plugins").glob("*/pyproject.toml"))
    found += sorted((ROOT / "testing").glob("*/pyproject.toml"))
    return {tomllib.loads(p.read_text())["project"]["name"]: p.parent for p in found}


HINTS = sorted((kind, name, dist) for kind, names in KNOWN_PROVIDERS.items() for name, dist in names.items())


def test_every_hint_names_a_workspace_distribution() -> None:
    workspace = _workspace_distributions()
    unknown = sorted({dist for _, _, dist in HINTS if dist not in workspace})
    assert unknown == [], f"install hints name distributions not in this repository: {unknown}"


def test_hint_kinds_are_registry_kinds() -> None:
    pm = PluginManager(load_entry_points=False)
    kinds = {r.kind for r in (pm.storage, pm.builders, pm.runtimes, pm.admin, pm.transformers)}
    assert set(KNOWN_PROVIDERS) <= kinds


@pytest.mark.parametrize(("kind", "name", "dist"), HINTS)
def test_hinted_distribution_registers_the_name(kind: str, name: str, dist: str) -> None:
    try:
        eps = [ep for ep in importlib.metadata.distribution(dist).entry_points if ep.group == "flyte.plugins"]
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{dist} is not installed here (python3 dev.py setup installs every workspace distribution)")
    assert eps, f"{dist} declares no flyte.plugins entry point"
    pm = PluginManager(load_entry_points=False, builtins=False)
    for ep in eps:
        pm.register(ep.load(), ep.name)
    registry = {r.kind: r for r in (pm.storage, pm.builders, pm.runtimes, pm.admin)}[kind]
    assert name in registry.names(), f"{dist} does not register the {kind} {name!r}: {registry.names()}"
