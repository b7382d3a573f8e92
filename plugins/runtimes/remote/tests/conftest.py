"""A flyte-devbox for the module's tests, with this virtualenv's flyte-core-worker on the actions' PATH."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyte.testing.hermetic import isolate

PROGRAMS = Path(__file__).parent / "programs"


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh HOME and FLYTE_HOME, no config file (FLYTE_CONFIG=""), no FLYTE_* variable of the machine."""
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="session")
def devbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from flyte_devbox.testing import DevboxProcess

    bin_dir = os.path.dirname(sys.executable)
    if not os.path.exists(os.path.join(bin_dir, "flyte-core-worker")):
        pytest.fail(f"flyte-core-worker is not installed in {bin_dir}; run `pip install -e core`")
    with DevboxProcess(tmp_path_factory.mktemp("devbox"), worker_paths=(bin_dir,), concurrency=8) as box:
        yield box


@pytest.fixture
def remote(devbox: object) -> Iterator[object]:
    """flyte.init pointed at the devbox for one test; programs importable as modules."""
    import flyte

    if str(PROGRAMS) not in sys.path:
        sys.path.insert(0, str(PROGRAMS))
    flyte.init(endpoint=devbox.endpoint, insecure=True)  # type: ignore[attr-defined]
    try:
        yield devbox
    finally:
        flyte.init()
