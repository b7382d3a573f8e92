"""The remote runtime end to end on flyte-devbox: our client submits, our worker runs the actions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def test_hello_world(remote: Any) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.hello, name="devbox")
    assert run.runtime == "remote"
    assert run.url.endswith(run.name)
    assert run.outputs()[0] == "hello devbox"
    assert run.phase == flyte.runtime.Phase.SUCCEEDED


def test_fan_out_and_sync_children(remote: Any) -> None:
    import e2e_prog
    import flyte

    r1 = flyte.run(e2e_prog.fan_out, n=20)
    r2 = flyte.run(e2e_prog.sync_parent, n=3)
    assert r1.outputs()[0] == sum(i * i for i in range(20))
    assert r2.outputs()[0] == [1, 2, 3]


def test_user_error_is_raised_with_its_message(remote: Any) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.fail, x=7)
    with pytest.raises(flyte.errors.RuntimeUserError, match="ValueError: boom 7"):
        run.wait()
    assert run.phase == flyte.runtime.Phase.FAILED


def test_crash_then_success_on_retry(remote: Any, tmp_path: Path) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.flaky, marker_dir=str(tmp_path))
    assert run.outputs()[0] == "ok on retry"


def test_timeout(remote: Any) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.slow, seconds=30)
    t0 = time.monotonic()
    with pytest.raises(flyte.errors.RuntimeUserError):
        run.wait()
    assert time.monotonic() - t0 < 20
    assert run.phase in (flyte.runtime.Phase.FAILED, flyte.runtime.Phase.TIMED_OUT)


def test_abort_a_running_run(remote: Any) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.sleeper, seconds=60)
    deadline = time.monotonic() + 15
    while run.handle.refresh() != flyte.runtime.Phase.RUNNING and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.1)
    run.abort()
    with pytest.raises(flyte.errors.RunAbortedError):
        run.wait()
    assert run.phase == flyte.runtime.Phase.ABORTED
