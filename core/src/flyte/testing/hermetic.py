"""Keep the machine's flyte set-up out of tests: a fresh HOME and FLYTE_HOME, no config file.

Call :func:`isolate` from an autouse fixture in your ``conftest.py``::

    @pytest.fixture(autouse=True)
    def _hermetic(tmp_path_factory, monkeypatch):
        flyte.testing.hermetic.isolate(monkeypatch, tmp_path_factory.mktemp("home"))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

#: ``FLYTE_*`` variables that configure the test run itself, not flyte: kept.
TEST_RUN_VARIABLES = frozenset({"FLYTE_DEV_TOOLS", "FLYTE_OFFICIAL_PYTHON", "FLYTE_TESTING_REQUIRE_SERVICES"})


def isolate(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """For one test: ``HOME`` is ``home`` (so ``~/.flyte``, ``~/.docker``, ``~/.aws`` are empty),
    ``FLYTE_HOME`` is ``home/.flyte``, ``FLYTE_CONFIG`` is empty (no config file is read, wherever
    the search would look), and every other ``FLYTE_*`` variable of the machine is unset, as are
    ``FLYTECTL_CONFIG``, ``UCTL_CONFIG``, ``DOCKER_CONFIG`` and ``XDG_CONFIG_HOME``. The config
    cached by :func:`flyte.config.get_config` is dropped, so the next read sees this set-up."""
    import flyte.config

    home.mkdir(parents=True, exist_ok=True)
    for name in list(os.environ):
        if name.startswith("FLYTE_") and name not in TEST_RUN_VARIABLES:
            monkeypatch.delenv(name)
    for name in ("FLYTECTL_CONFIG", "UCTL_CONFIG", "DOCKER_CONFIG", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("FLYTE_HOME", str(home / ".flyte"))
    monkeypatch.setenv("FLYTE_CONFIG", "")
    flyte.config.set_config(None)
