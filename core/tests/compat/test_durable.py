"""flyte.durable: time, now, sleep (the official names) and random replay their values on a retried attempt."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import flyte
import flyte.durable

env = flyte.TaskEnvironment(name="dur")
seen: list[tuple[float, datetime, float, int, str]] = []
slept: list[float] = []


@env.task(retries=2)
async def flaky() -> int:
    t = await flyte.durable.time.aio()
    now = flyte.durable.now()
    r = await flyte.durable.random.aio()
    i = flyte.durable.randint(1, 10**9)
    c = flyte.durable.choice(["a", "b", "c", "d", "e", "f", "g", "h"])
    seen.append((t, now, r, i, c))
    started = time.monotonic()
    await flyte.durable.sleep.aio(0.3)
    slept.append(time.monotonic() - started)
    if len(seen) < 3:
        raise RuntimeError(f"attempt {len(seen)} fails")
    return len(seen)


@env.task(retries=1)
def sync_flaky() -> float:
    t = flyte.durable.time()
    flyte.durable.sleep(0.01)
    seen.append((t, datetime.now(), 0.0, 0, ""))
    if len(seen) < 2:
        raise RuntimeError("first attempt fails")
    return t


def test_retried_attempts_replay_the_first_attempts_values(tmp_path: Path) -> None:
    seen.clear()
    slept.clear()
    run = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(flaky)
    assert run.outputs()[0] == 3
    assert seen[0] == seen[1] == seen[2]
    assert isinstance(seen[0][1], datetime)
    # the sleep counts from the first attempt's call: later attempts sleep (almost) nothing
    assert slept[0] >= 0.25 and slept[2] < slept[0]
    assert (tmp_path / run.name / "durable" / "a0.json").is_file()  # kept with the run's record


def test_sync_bodies_and_fresh_runs_get_new_values(tmp_path: Path) -> None:
    seen.clear()
    first = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(sync_flaky).outputs()[0]
    assert seen[0][0] == seen[1][0] == first
    seen.clear()
    time.sleep(0.01)
    second = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(sync_flaky).outputs()[0]
    assert second > first  # another run records its own values


def test_outside_a_task_they_are_the_plain_functions() -> None:
    a, b = flyte.durable.time(), flyte.durable.time()
    assert b >= a and abs(a - time.time()) < 5
    assert flyte.durable.random() != flyte.durable.random()
    assert sorted(flyte.durable.__all__) == ["choice", "now", "randint", "random", "sleep", "time"]


def test_a_run_directory_in_object_storage_keeps_values_in_memory(tmp_path: Path) -> None:
    from flyte._context import ActionID, RawDataPath, TaskContext, reset_current, set_current

    tc = TaskContext(ActionID("a1", "remote-run"), RawDataPath(str(tmp_path)), "s3://bucket/remote-run")
    token = set_current(tc)
    try:
        first = flyte.durable.random()
    finally:
        reset_current(token)
    retry = TaskContext(ActionID("a1", "remote-run"), RawDataPath(str(tmp_path)), "s3://bucket/remote-run")
    token = set_current(retry)
    try:
        assert flyte.durable.random() == first  # the next attempt in this process replays it
    finally:
        reset_current(token)
    assert not Path("s3:").exists()
