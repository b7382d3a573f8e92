"""A real devbox on loopback per test module (started and stopped by the fixture), and small helpers."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from flyte.testing.hermetic import isolate
from flyte_devbox.testing import DevboxProcess


@pytest.fixture(scope="module")
def devbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevboxProcess]:
    box = DevboxProcess(tmp_path_factory.mktemp("devbox"), concurrency=4)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def channel(devbox: DevboxProcess) -> Iterator[grpc.Channel]:
    ch = grpc.insecure_channel(devbox.endpoint)
    yield ch
    ch.close()


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh HOME and FLYTE_HOME, no config file (FLYTE_CONFIG=""), no FLYTE_* variable of the machine."""
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))
