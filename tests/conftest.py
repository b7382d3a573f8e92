"""Cross-distribution tests: each test gets its own FLYTE_HOME."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_flyte_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_HOME", str(tmp_path_factory.mktemp("flyte-home")))
    monkeypatch.setenv("FLYTE_CONFIG", "")
