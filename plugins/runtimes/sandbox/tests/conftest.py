from __future__ import annotations

from typing import Any

import flyte
import flyte_sandbox.hooks
import pytest
from flyte.plugins import isolated_plugins
from flyte.testing.hermetic import isolate


@pytest.fixture(autouse=True)
def sandbox_plugin(tmp_path, monkeypatch):
    """Only the built-ins and flyte-sandbox are registered; a tmp HOME and FLYTE_HOME, no config file."""
    isolate(monkeypatch, tmp_path / "home")
    with isolated_plugins(("sandbox", flyte_sandbox.hooks)) as pm:
        yield pm


def run(task: Any, mode: str = "sandbox", **kwargs: Any) -> tuple[Any, ...]:
    """Run ``task`` on a runtime and return its outputs (raises the run's error)."""
    return flyte.with_runcontext(mode=mode).run(task, **kwargs).outputs()


@pytest.fixture
def sandbox_run():
    return run
