"""Cross-distribution tests: each test gets its own HOME and FLYTE_HOME and no config file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flyte.testing.hermetic import isolate

# The official SDK, which compatibility tests compare with: `python3 dev.py setup` puts it in the repository's
# .official-venv and `dev.py test` names it in FLYTE_OFFICIAL_PYTHON; a plain pytest run finds it there too.
_OFFICIAL = Path(__file__).resolve().parents[1] / ".official-venv" / "bin" / "python"
if _OFFICIAL.exists():
    os.environ.setdefault("FLYTE_OFFICIAL_PYTHON", str(_OFFICIAL))


@pytest.fixture(autouse=True)
def _isolated_flyte_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))
