"""Review findings R1-1, R1-2, R1-14, R1-15 (/work/notes/review.md): the sandbox behaves as the local runtime."""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta

import flyte
import pydantic
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


# -- R1-1: a sync task called from an async body ---------------------------------------------------------


@env.task
def wc(text: str) -> int:
    return len(text.split())


@env.task
async def awaits_sync_call(text: str = "a b c") -> str:
    return f"await: {await wc(text)}"


@env.task
async def plain_sync_call(text: str = "a b c") -> str:
    return f"plain call: {wc(text)!r}"


def count_words(text: str) -> int:
    return wc(text)


@env.task
async def sync_call_in_helper(text: str = "a b c") -> int:
    return count_words(text)


@env.task
async def aio_sync_call(text: str = "a b c") -> int:
    return await wc.aio(text)


@pytest.mark.parametrize("task", [awaits_sync_call, plain_sync_call])
def test_sync_task_called_in_async_body_is_refused_before_the_run(sandbox_run, task):
    with pytest.raises(flyte.errors.RuntimeUserError, match="SyncTaskCallInAsyncContext|Sync task 'rv.wc' was called"):
        sandbox_run(task, mode="local")
    with pytest.raises(flyte.errors.SandboxError,
                       match=r"test_review_fixes.py:\d+\): calls the sync task 'wc' as `wc\(...\)` in an async body"
                             r".*SyncTaskCallInAsyncContextError.*`await wc.aio\(...\)`"):
        sandbox_run(task)


def test_sync_task_called_from_helper_of_async_body_fails_as_locally(sandbox_run):
    for mode in ("local", "sandbox"):
        with pytest.raises(flyte.errors.RuntimeUserError, match=r"Sync task 'rv.wc' was called from async code.*"
                                                                 r"Use `await wc.aio\(...\)` instead"):
            sandbox_run(sync_call_in_helper, mode=mode)
    assert sandbox_run(aio_sync_call) == (3,)


# -- R1-14: functools.partial(task, ...) ----------------------------------------------------------------


@env.task
async def add(x: int, y: int, scale: int = 1) -> int:
    return (x + y) * scale


@env.task
async def maps_partial() -> list[int]:
    return [r async for r in flyte.map.aio(functools.partial(add, y=5, scale=2), [1, 2, 3])]


@env.task
def maps_imported_partial() -> list[int]:
    from functools import partial

    return list(flyte.map(partial(add, y=5, scale=2), [1, 2, 3]))


@pytest.mark.parametrize("task", [maps_partial, maps_imported_partial])
def test_partial_of_a_task_is_refused_before_the_run(sandbox_run, task):
    assert sandbox_run(task, mode="local") == ([12, 14, 16],)
    with pytest.raises(flyte.errors.SandboxError, match=r"test_review_fixes.py:\d+\): functools.partial of the task "
                                                        r"'add' is not available in the sandbox"):
        sandbox_run(task)


# -- R1-15: ordinary code that pydantic-monty runs differently ----------------------------------------------


def rounded(x: float, n: int) -> float:
    return round(x, n)


@env.task
def rounds(x: float, n: int) -> str:
    return f"{round(x, n)} {round(x, ndigits=n)} {round(x)} {round(7, 1)} {rounded(x, n)} {round(-x, n)}"


@pytest.mark.parametrize("x", [2.675, 0.125, 1.005, 2.5])
def test_round_with_digits_matches_cpython(sandbox_run, x):
    expected = f"{round(x, 2)} {round(x, 2)} {round(x)} {round(7, 1)} {round(x, 2)} {round(-x, 2)}"
    assert sandbox_run(rounds, mode="local", x=x, n=2) == (expected,)
    assert sandbox_run(rounds, x=x, n=2) == (expected,)


@env.task
def formats(name: str) -> str:
    return "hello {name}".format_map({"name": name})


@env.task
def reads_cause(x: int) -> str:
    try:
        try:
            raise KeyError(x)
        except KeyError as e0:
            raise ValueError("bad") from e0
    except ValueError as e:
        return repr(e.__cause__)


@env.task
def adds_note(x: int) -> str:
    try:
        raise ValueError("bad")
    except ValueError as e:
        e.add_note("more")
        return str(e)


@pytest.mark.parametrize("task, kwargs, what", [
    (formats, {"name": "w"}, r"uses .format_map, which str .*use s.format\(\*\*mapping\)"),
    (reads_cause, {"x": 1}, r"uses .__cause__, which exceptions in the sandbox's Python \(pydantic-monty\)"),
    (adds_note, {"x": 1}, r"uses .add_note, which exceptions"),
])
def test_missing_attributes_are_refused_before_the_run(sandbox_run, task, kwargs, what):
    sandbox_run(task, mode="local", **kwargs)  # fine on the host
    with pytest.raises(flyte.errors.SandboxError, match=r"test_review_fixes.py:\d+\): " + what):
        sandbox_run(task, **kwargs)


# -- R1-4: a child's failure reads the same in the parent's error ------------------------------------------


@env.task
async def boom(x: int) -> int:
    raise ValueError(f"bad {x}")


@env.task
async def awaits_boom(x: int) -> int:
    return await boom(x)


def test_child_failure_reads_as_locally(sandbox_run):
    messages = []
    for mode in ("local", "sandbox"):
        with pytest.raises(flyte.errors.RuntimeUserError) as ei:
            sandbox_run(awaits_boom, mode=mode, x=1)
        messages.append(str(ei.value))
    assert messages[0] == ("task 'rv.awaits_boom' (action a0) failed: task 'rv.boom' (action a1) failed: "
                           "ValueError: bad 1")
    assert messages[1] == messages[0]


# -- R1-3: str() of a pydantic model ---------------------------------------------------------------------


class MInner(pydantic.BaseModel):
    x: float


class MOuter(pydantic.BaseModel):
    m: MInner
    ms: dict[str, MInner]


@env.task
def model_text(m: MOuter) -> str:
    return f"{m}"


@env.task
def model_repr(m: MOuter) -> str:
    return f"{m!r} {m.m.x}"


def test_str_of_a_pydantic_model_is_refused_before_the_run(sandbox_run):
    m = MOuter(m=MInner(x=3.0), ms={"a": MInner(x=1.0)})
    with pytest.raises(flyte.errors.SandboxError, match=r"py:\d+\): formats the pydantic model MOuter"):
        sandbox_run(model_text, m=m)
    assert sandbox_run(model_repr, m=m) == sandbox_run(model_repr, mode="local", m=m)
