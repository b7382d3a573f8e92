from __future__ import annotations

import pytest
from flyte.testing.hermetic import isolate


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh HOME and FLYTE_HOME, no config file (FLYTE_CONFIG=""), no FLYTE_* variable of the machine."""
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))
