from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest


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
