"""flyte.Timeout(max_runtime=, max_queued_time=, deadline=) as the official SDK spells it, enforced here."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import flyte
import pytest
from flyte.errors import (
    DeadlineExceededError,
    MaxQueuedTimeExceededError,
    MaxRuntimeExceededError,
    TaskDefinitionError,
    TaskTimeoutError,
)
from flyte.runtime import Phase

env = flyte.TaskEnvironment(name="tmo")
attempts: list[float] = []


@env.task(timeout=flyte.Timeout(max_runtime=timedelta(milliseconds=300)))
async def too_long() -> None:
    await asyncio.sleep(30)


@env.task(retries=20, timeout=flyte.Timeout(deadline=0.8))
async def keeps_failing() -> None:
    attempts.append(time.monotonic())
    await asyncio.sleep(0.2)
    raise ValueError("flaky")


@env.task(retries=3, timeout=flyte.Timeout(max_runtime=60, deadline=timedelta(milliseconds=400)))
async def stuck() -> None:
    attempts.append(time.monotonic())
    await asyncio.sleep(30)


@env.task(retries=1, timeout=flyte.Timeout(max_runtime=0.2, deadline=30))
async def retried_then_ok() -> int:
    attempts.append(time.monotonic())
    if len(attempts) == 1:
        await asyncio.sleep(30)
    return len(attempts)


@env.task
async def holder() -> None:
    await asyncio.sleep(1.0)


@env.task(timeout=flyte.Timeout(max_queued_time=0.2))
async def impatient() -> None:
    return None


@env.task
async def crowded() -> None:
    first = asyncio.ensure_future(holder())
    await asyncio.sleep(0.05)  # holder has the only slot now
    try:
        await impatient()
    finally:
        await first


@env.task(timeout=flyte.Timeout(max_runtime=0.3))
def sync_too_long() -> None:
    time.sleep(0.05)
    for _ in range(300):
        time.sleep(0.01)


def _run(tmp_path: Path, task: flyte.TaskTemplate, **options: object) -> flyte.Run:
    return flyte.with_runcontext(run_base_dir=str(tmp_path), **options).run(task)  # type: ignore[arg-type]


def test_max_runtime(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(MaxRuntimeExceededError, match="timed out after 0.3s") as e:
        _run(tmp_path, too_long)
    assert time.monotonic() - started < 5
    assert isinstance(e.value, TaskTimeoutError)  # the official base class name


def test_a_sync_body_ends_on_time_too(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(MaxRuntimeExceededError):
        _run(tmp_path, sync_too_long)
    assert time.monotonic() - started < 2.5


def test_deadline_stops_retrying(tmp_path: Path) -> None:
    attempts.clear()
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError, match="deadline of 0.8s"):
        _run(tmp_path, keeps_failing)
    took = time.monotonic() - started
    assert 0.7 < took < 3 and 2 <= len(attempts) <= 5  # not 21 attempts


def test_deadline_ends_a_running_attempt(tmp_path: Path) -> None:
    attempts.clear()
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        _run(tmp_path, stuck, name="stuck")
    assert time.monotonic() - started < 5 and len(attempts) == 1  # not retried
    from flyte._builtin.local.records import load_run

    _, actions = load_run("stuck", tmp_path)
    assert actions[0]["phase"] == Phase.TIMED_OUT.value


def test_max_runtime_is_per_attempt_under_a_deadline(tmp_path: Path) -> None:
    attempts.clear()
    assert _run(tmp_path, retried_then_ok).outputs()[0] == 2


def test_max_queued_time(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(Exception, match="waited 0.2s to start") as e:
        _run(tmp_path, crowded, max_action_concurrency=1)
    assert isinstance(e.value.__cause__, MaxQueuedTimeExceededError) or isinstance(e.value, MaxQueuedTimeExceededError)
    assert time.monotonic() - started < 5


def test_every_field_is_optional_and_bare_values_still_work() -> None:
    assert flyte.Timeout() == flyte.Timeout(None, None, None)
    t = env.task(timeout=flyte.Timeout(max_queued_time=timedelta(minutes=1)))(lambda_free)
    assert (t.timeout, t.max_queued_time, t.deadline) == (None, 60.0, None)
    assert env.task(timeout=5)(lambda_free).timeout == 5.0
    assert env.task(timeout=timedelta(seconds=7))(lambda_free).timeout == 7.0
    assert env.task(timeout=0)(lambda_free).timeout is None
    o = t.override(timeout=flyte.Timeout(deadline=3))
    assert (o.timeout, o.max_queued_time, o.deadline) == (None, None, 3.0)
    with pytest.raises(TaskDefinitionError, match="deadline must be >= 0"):
        env.task(timeout=flyte.Timeout(deadline=-1))(lambda_free)
    with pytest.raises(TaskDefinitionError, match="max_runtime must be a timedelta"):
        env.task(timeout=flyte.Timeout(max_runtime="5m"))(lambda_free)  # type: ignore[arg-type]


async def lambda_free() -> None:
    return None


sandboxed = flyte.TaskEnvironment(name="tmosb")


@sandboxed.task
def sb_slow(x: int) -> int:
    import time

    time.sleep(3)
    return x


@sandboxed.task(retries=5, timeout=flyte.Timeout(deadline=0.6))
async def sb_parent() -> int:
    return await sb_slow.aio(1)


@sandboxed.task(timeout=flyte.Timeout(max_runtime=timedelta(milliseconds=400)))
async def sb_runtime() -> int:
    return await sb_slow.aio(2)


@pytest.mark.parametrize(("task", "error"), [(sb_parent, DeadlineExceededError), (sb_runtime, MaxRuntimeExceededError)])
def test_enforced_in_the_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: flyte.TaskTemplate,
                                 error: type[Exception]) -> None:
    hooks = pytest.importorskip("flyte_sandbox.hooks")
    from flyte.plugins import isolated_plugins

    with isolated_plugins(("sandbox", hooks)):
        started = time.monotonic()
        with pytest.raises(error):
            flyte.with_runcontext(mode="sandbox", run_base_dir=str(tmp_path)).run(task)
        assert time.monotonic() - started < 2.5
