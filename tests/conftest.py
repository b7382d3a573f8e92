"""Cross-distribution tests: each test gets its own HOME and FLYTE_HOME and no config file."""

from __future__ import annotations

import pytest
from flyte.testing.hermetic import isolate


@pytest.fixture(autouse=True)
def _isolated_flyte_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))
