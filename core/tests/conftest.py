"""Every test gets its own FLYTE_HOME (runs, cache) and no config file from the machine."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_flyte_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("flyte-home")
    monkeypatch.setenv("FLYTE_HOME", str(home))
    monkeypatch.setenv("FLYTE_CONFIG", "")
    monkeypatch.delenv("FLYTE_LOCAL_RUNS_DIR", raising=False)
    monkeypatch.delenv("FLYTE_LOCAL_CACHE_DB", raising=False)
    import flyte.config

    flyte.config.set_config(flyte.config.Config({}, None))
    yield
    flyte.config.set_config(None)


@pytest.fixture(autouse=True)
def _hermetic_plugins() -> None:
    """Only the built-in plugin is visible unless a test registers more (installed ones never leak in)."""
    from flyte.plugins.manager import isolated_plugins

    with isolated_plugins():
        yield
