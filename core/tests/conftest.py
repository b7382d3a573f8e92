"""Every test gets its own HOME and FLYTE_HOME (runs, cache) and no config file from the machine."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# The official SDK, which compatibility tests compare with: `python3 dev.py setup` puts it in the repository's
# .official-venv and `dev.py test` names it in FLYTE_OFFICIAL_PYTHON; a plain pytest run finds it there too.
_OFFICIAL = Path(__file__).resolve().parents[2] / ".official-venv" / "bin" / "python"
if _OFFICIAL.exists():
    os.environ.setdefault("FLYTE_OFFICIAL_PYTHON", str(_OFFICIAL))


@pytest.fixture(autouse=True)
def _isolated_flyte_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh HOME and FLYTE_HOME, no config file (FLYTE_CONFIG=""), no FLYTE_* variable of the machine."""
    import flyte.config
    from flyte.testing.hermetic import isolate

    isolate(monkeypatch, tmp_path_factory.mktemp("home"))
    flyte.config.set_config(flyte.config.Config({}, None))
    yield
    flyte.config.set_config(None)


@pytest.fixture(autouse=True)
def _hermetic_plugins() -> None:
    """Only the built-in plugin is visible unless a test registers more (installed ones never leak in)."""
    from flyte.plugins.manager import isolated_plugins

    with isolated_plugins():
        yield


@contextlib.contextmanager
def _run_context(raw: Path | str) -> Iterator[None]:
    from flyte._context import ActionID, TaskContext, reset_current, set_current

    tc = TaskContext(action=ActionID(name="a0", run_name="r0"), raw_data_path=str(raw), run_base_dir=str(raw))
    token = set_current(tc)
    try:
        yield
    finally:
        reset_current(token)


@pytest.fixture
def run_context():
    """``with run_context(raw_dir):`` runs the block as if inside a run writing to raw_dir."""
    return _run_context
