"""Review findings R1-1, R1-2, R1-14, R1-15 (/work/notes/review.md): the sandbox behaves as the local runtime."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import flyte
import pytest
from flyte.errors import DeadlineExceededError, MaxRuntimeExceededError, TaskTimedoutError
from flyte_sandbox import Sandbox
from flyte_sandbox.errors import SandboxLimitError

env = flyte.TaskEnvironment(name="rv")


@env.task(timeout=timedelta(seconds=0.5))
async def sleeps_past_timeout() -> int:
    await asyncio.sleep(3)
    return 1


@env.task(timeout=0.5)
async def sleeps_past_both() -> int:
    await asyncio.sleep(30)  # past the Sandbox's 10 s sleep budget too: the task's timeout still binds
    return 1


@env.task(retries=5, timeout=flyte.Timeout(max_runtime=timedelta(seconds=0.4), deadline=timedelta(seconds=1)))
async def retrying_until_deadline() -> int:
    await asyncio.sleep(1)
    return 1


@env.task(retries=1, timeout=0.3)
def computes_past_timeout(n: int) -> int:
    total = 0
    for i in range(n):
        total += i % 7
    return total


@env.task(sandbox=Sandbox(timeout=0.3))
def computes_past_sandbox_limit(n: int) -> int:
    total = 0
    for i in range(n):
        total += i % 7
    return total


@pytest.mark.parametrize("mode", ["local", "sandbox"])
def test_task_timeout_is_the_task_timeout_error(sandbox_run, mode):
    with pytest.raises(MaxRuntimeExceededError, match=r"rv.sleeps_past_timeout.*timed out after 0.5s") as ei:
        sandbox_run(sleeps_past_timeout, mode=mode)
    assert not isinstance(ei.value, SandboxLimitError)
    assert "Sandbox(timeout" not in str(ei.value)
    with pytest.raises(MaxRuntimeExceededError, match=r"timed out after 0.5s"):
        sandbox_run(sleeps_past_both, mode=mode)


@pytest.mark.parametrize("mode", ["local", "sandbox"])
def test_task_timeout_is_retried_and_deadline_honoured(sandbox_run, mode):
    with pytest.raises(DeadlineExceededError, match=r"deadline of 1s.*after [23] attempts"):
        sandbox_run(retrying_until_deadline, mode=mode)


def test_compute_past_task_timeout_is_retried_timeout(sandbox_run):
    with pytest.raises(TaskTimedoutError, match=r"timed out after 0.3s.*after 2 attempts") as ei:
        sandbox_run(computes_past_timeout, n=10**10)
    assert not isinstance(ei.value, SandboxLimitError)


def test_sandbox_own_limit_stays_a_sandbox_limit(sandbox_run):
    with pytest.raises(SandboxLimitError, match=r"sandbox time limit of 0.3 s; give it more with Sandbox\(timeout"):
        sandbox_run(computes_past_sandbox_limit, n=10**10)
