"""The local runtime end to end through flyte.run: fan-out, map, retries, timeouts, cache, errors, records."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import flyte
import pytest
from flyte.errors import InvalidInputError, RuntimeUserError, TaskTimedoutError

env = flyte.TaskEnvironment(name="t_local", env_vars={"T_LOCAL_ENV": "from-env"})


@env.task
async def add(x: int, y: int = 1) -> int:
    return x + y


@env.task
async def fan(n: int) -> list[int]:
    return list(await asyncio.gather(*(add(i) for i in range(n))))


@env.task
def sync_double(x: int) -> int:
    return x * 2


@env.task
def sync_parent(n: int) -> list[int]:
    return [sync_double(i) for i in range(n)]


@env.task
async def async_parent_of_sync(n: int) -> list[int]:
    return list(await asyncio.gather(*(sync_double.aio(i) for i in range(n))))


_map_live: dict = {"now": 0, "peak": 0, "finished": []}
_map_lock = threading.Lock()


@env.task
def timed_double(x: int) -> int:
    with _map_lock:
        _map_live["now"] += 1
        _map_live["peak"] = max(_map_live["peak"], _map_live["now"])
    time.sleep(0.05 if x % 4 == 0 else 0.005)  # every 4th item is slow: items after it finish first
    with _map_lock:
        _map_live["now"] -= 1
        _map_live["finished"].append(x)
    return x * 2


@env.task
async def mapped(n: int) -> list[int]:
    return [r async for r in flyte.map.aio(timed_double, range(n), concurrency=3)]


def test_task_outside_a_run_is_a_plain_call() -> None:
    assert asyncio.run(add(2, 3)) == 5
    assert sync_double(4) == 8


def test_run_returns_outputs_tuple_and_name() -> None:
    run = flyte.run(add, x=2, y=5)
    assert run.outputs()[0] == 7
    assert run.outputs() == (7,)
    assert run.phase.value == "SUCCEEDED"
    assert run.name.startswith("r")


def test_fan_out_gather() -> None:
    assert flyte.run(fan, n=50).outputs()[0] == [i + 1 for i in range(50)]


def test_sync_tasks_and_aio() -> None:
    assert flyte.run(sync_parent, n=5).outputs()[0] == [0, 2, 4, 6, 8]
    assert flyte.run(async_parent_of_sync, n=5).outputs()[0] == [0, 2, 4, 6, 8]


def test_map_in_order_with_bounded_concurrency() -> None:
    _map_live.update(now=0, peak=0, finished=[])
    assert flyte.run(mapped, n=20).outputs()[0] == [2 * i for i in range(20)]
    assert sorted(_map_live["finished"]) == list(range(20))
    assert _map_live["finished"] != list(range(20))  # items finished out of order, results came back in order
    assert _map_live["peak"] == 3  # concurrency=3 bounds it, and three did run at once


_live = {"now": 0, "peak": 0}
_lock = threading.Lock()


@env.task
async def tracked(i: int) -> int:
    with _lock:
        _live["now"] += 1
        _live["peak"] = max(_live["peak"], _live["now"])
    await asyncio.sleep(0.01)
    with _lock:
        _live["now"] -= 1
    return i


@env.task
async def many_tracked(n: int) -> int:
    return sum(await asyncio.gather(*(tracked(i) for i in range(n))))


def test_gather_really_runs_concurrently_and_is_bounded() -> None:
    _live.update(now=0, peak=0)
    assert flyte.run(many_tracked, n=100).outputs()[0] == sum(range(100))
    assert _live["peak"] > 10  # many bodies were in flight at once: concurrent, not sequential
    _live.update(now=0, peak=0)
    flyte.with_runcontext(max_action_concurrency=5).run(many_tracked, n=40)
    assert _live["peak"] <= 5


@env.task
async def nested(depth: int) -> int:
    if depth == 0:
        return 0
    return 1 + sum(await asyncio.gather(nested(depth - 1), nested(depth - 1)))


def test_nesting_deeper_than_the_concurrency_bound_does_not_deadlock() -> None:
    run = flyte.with_runcontext(max_action_concurrency=2).run(nested, depth=5)
    assert run.outputs()[0] == 31


_attempts: dict[str, int] = {}


@env.task(retries=3)
async def flaky(key: str) -> int:
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] < 3:
        raise ConnectionError(f"transient {_attempts[key]}")
    return _attempts[key]


@env.task(retries=flyte.RetryStrategy(count=1, backoff=flyte.Backoff(base=timedelta(milliseconds=1))))
async def always_fails(x: int) -> int:
    raise ValueError(f"bad value {x}")


@env.task
async def parent_of_failure(x: int) -> int:
    return await always_fails(x)


def test_retries_absorb_transient_failures() -> None:
    assert flyte.run(flaky, key="a").outputs()[0] == 3


def test_child_error_reaches_parent_with_its_message() -> None:
    with pytest.raises(RuntimeUserError) as e:
        flyte.run(parent_of_failure, x=7)
    msg = str(e.value)
    assert "t_local.always_fails" in msg
    assert "ValueError: bad value 7" in msg
    assert "after 2 attempts" in msg


@env.task(timeout=0.1)
async def slow(x: int) -> int:
    await asyncio.sleep(5)
    return x


@env.task(timeout=timedelta(milliseconds=100))
def slow_sync(x: int) -> int:
    time.sleep(0.5)
    return x


def test_timeout_is_enforced() -> None:
    started = time.perf_counter()
    with pytest.raises(TaskTimedoutError, match="timed out after 0.1s"):
        flyte.run(slow, x=1)
    assert time.perf_counter() - started < 2
    with pytest.raises(TaskTimedoutError):
        flyte.run(slow_sync, x=1)


_calls = {"n": 0}


@env.task(cache="auto")
async def cached(x: int) -> int:
    _calls["n"] += 1
    return x * 10


@env.task(cache=flyte.Cache(behavior="override", version_override="v1", ignored_inputs=("noise",)))
async def cached_ignoring(x: int, noise: int) -> int:
    _calls["n"] += 1
    return x


def test_cache_hits_on_same_inputs_and_misses_on_new() -> None:
    _calls["n"] = 0
    assert flyte.run(cached, x=1).outputs()[0] == 10
    assert flyte.run(cached, x=1).outputs()[0] == 10
    assert _calls["n"] == 1
    flyte.run(cached, x=2)
    assert _calls["n"] == 2
    flyte.with_runcontext(overwrite_cache=True).run(cached, x=1)
    assert _calls["n"] == 3
    flyte.run(cached_ignoring, x=1, noise=1)
    flyte.run(cached_ignoring, x=1, noise=2)
    assert _calls["n"] == 4


def test_cache_persists_across_processes(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = tmp_path / "c.py"
    marker = tmp_path / "calls"
    script.write_text(
        "import flyte\n"
        "env = flyte.TaskEnvironment(name='xproc')\n"
        "@env.task(cache='auto')\n"
        "async def t(x: int) -> int:\n"
        f"    open({str(marker)!r}, 'a').write('x')\n"
        "    return x + 1\n"
        "if __name__ == '__main__':\n"
        "    print(flyte.run(t, x=41).outputs()[0])\n"
    )
    for _ in range(2):
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=os.environ.copy())
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "42"
    assert marker.read_text() == "x"


def test_bad_inputs_are_clear_and_leave_nothing_behind() -> None:
    from flyte._builtin.local.records import list_runs

    before = len(list_runs())
    with pytest.raises(InvalidInputError, match="x"):
        flyte.run(add, x="not an int")
    with pytest.raises(InvalidInputError):
        flyte.run(add)
    with pytest.raises(InvalidInputError):
        flyte.run(add, x=1, zzz=2)
    assert len(list_runs()) == before


@env.task
async def read_env() -> str:
    return os.environ.get("T_LOCAL_ENV", "") + "|" + os.environ.get("RUN_LEVEL", "")


def test_env_vars_of_environment_and_run() -> None:
    run = flyte.with_runcontext(env_vars={"RUN_LEVEL": "yes"}).run(read_env)
    assert run.outputs()[0] == "from-env|yes"
    assert "RUN_LEVEL" not in os.environ
    assert "T_LOCAL_ENV" not in os.environ


senv = flyte.TaskEnvironment(name="t_secrets", secrets=[flyte.Secret(key="api-token", as_env_var="API_TOKEN")])


@senv.task
async def uses_secret() -> int:
    return len(os.environ["API_TOKEN"])


def test_secrets_resolve_from_env_or_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="Secret 'api-token' was read.*API_TOKEN"):
        flyte.run(uses_secret)
    (tmp_path / "api-token").write_text("abcd\n")
    monkeypatch.setenv("FLYTE_SECRETS_DIR", str(tmp_path))
    assert flyte.run(uses_secret).outputs()[0] == 4
    monkeypatch.setenv("API_TOKEN", "123456")
    assert flyte.run(uses_secret).outputs()[0] == 6


@dataclass
class Point:
    x: int
    y: int


@env.task
async def move(p: Point, dx: int) -> Point:
    return Point(p.x + dx, p.y)


@env.task
async def bad_output(x: int) -> int:
    return "not an int"  # type: ignore[return-value]


def test_values_cross_boundaries_as_literals() -> None:
    out = flyte.run(move, p=Point(1, 2), dx=3).outputs()[0]
    assert out == Point(4, 2)
    with pytest.raises(RuntimeUserError, match="bad_output"):
        flyte.run(bad_output, x=1)


@env.task
async def ctx_info() -> str:
    c = flyte.ctx()
    assert c is not None
    with flyte.group("g1"):
        inner = await group_child()
    return f"{c.action.run_name}:{c.action.name}:{inner}"


@env.task
async def group_child() -> str:
    c = flyte.ctx()
    assert c is not None
    return "/".join(c.group)


def test_ctx_and_group() -> None:
    run = flyte.with_runcontext(name="myrun").run(ctx_info)
    assert run.outputs()[0] == "myrun:a0:g1"
    assert flyte.ctx() is None


def test_run_record_is_written(tmp_path: Path) -> None:
    from flyte._builtin.local.records import load_run

    run = flyte.with_runcontext(name="recorded").run(fan, n=3)
    summary, actions = load_run("recorded")
    assert summary["phase"] == "SUCCEEDED"
    assert summary["counts"] == {"succeeded": 4}
    assert {a["task"] for a in actions} == {"t_local.fan", "t_local.add"}
    root = next(a for a in actions if a["name"] == "a0")
    assert root["inputs"] and root["outputs"]
    rundir = Path(run.url.removeprefix("file://"))
    assert sorted(p.name for p in rundir.iterdir()) == ["actions.db", "run.json"]
    assert json.loads((rundir / "run.json").read_text())["name"] == "recorded"
    # running under the same name again leaves the earlier record alone: the new run is recorded-2
    again = flyte.with_runcontext(name="recorded").run(fan, n=1)
    assert again.name == "recorded-2"
    assert load_run("recorded")[0]["counts"] == {"succeeded": 4}
    assert load_run("recorded-2")[0]["counts"] == {"succeeded": 2}


def test_failed_run_is_recorded() -> None:
    from flyte._builtin.local.records import load_run

    with pytest.raises(RuntimeUserError):
        flyte.with_runcontext(name="failing").run(parent_of_failure, x=1)
    summary, actions = load_run("failing")
    assert summary["phase"] == "FAILED"
    assert "bad value 1" in summary["error"]
    failed = [a for a in actions if a["phase"] == "FAILED"]
    assert {a["task"] for a in failed} == {"t_local.always_fails", "t_local.parent_of_failure"}
    assert next(a for a in failed if a["task"] == "t_local.always_fails")["attempts"] == 2


async def test_run_aio_inside_a_running_loop() -> None:
    run = await flyte.run.aio(add, x=1, y=1)
    assert (await run.outputs.aio())[0] == 2
    # the sync form works from inside a running loop as well
    assert flyte.run(add, x=2).outputs()[0] == 3


def test_override() -> None:
    t = always_fails.override(retries=0)
    with pytest.raises(RuntimeUserError) as e:
        flyte.run(t, x=1)
    assert "after" not in str(e.value)
    from flyte.errors import TaskDefinitionError

    with pytest.raises(TaskDefinitionError, match="unknown option"):
        add.override(bogus=1)


def test_sync_call_of_sync_task_from_async_code_is_an_error() -> None:
    @env.task
    async def wrong() -> int:
        return sync_double(1)  # type: ignore[no-any-return]

    with pytest.raises(RuntimeUserError, match=r"\.aio"):
        flyte.run(wrong)


@env.task
def sync_map_parent(n: int) -> list[int]:
    return list(flyte.map(sync_double, range(n), concurrency=2))


@env.task
async def picky(x: int) -> int:
    if x == 2:
        raise ValueError("two is not allowed")
    return x


@env.task
async def map_with_failures(n: int) -> list[str]:
    return [type(r).__name__ if isinstance(r, Exception) else str(r) async for r in flyte.map.aio(picky, range(n))]


@env.task
async def map_fail_fast(n: int) -> list[int]:
    return [r async for r in flyte.map.aio(picky, range(n), return_exceptions=False)]


def test_sync_map_inside_a_sync_task() -> None:
    assert flyte.run(sync_map_parent, n=6).outputs()[0] == [0, 2, 4, 6, 8, 10]


def test_map_outside_a_run_is_plain_calls() -> None:
    assert list(flyte.map(sync_double, [1, 2, 3])) == [2, 4, 6]


def test_map_return_exceptions() -> None:
    assert flyte.run(map_with_failures, n=4).outputs()[0] == ["0", "1", "RuntimeUserError", "3"]
    with pytest.raises(RuntimeUserError, match="two is not allowed"):
        flyte.run(map_fail_fast, n=4)


@env.task
async def write_file(text: str) -> flyte.io.File:
    f = flyte.io.File.new_remote()
    async with f.open("wb") as fh:
        await fh.write(text.encode())
    return f


@env.task
async def read_file(f: flyte.io.File) -> str:
    async with f.open("rb") as fh:
        return (await fh.read()).decode()


@env.task
async def file_pipeline(text: str) -> tuple[str, flyte.io.File]:
    f = await write_file(text)
    return await read_file(f), f


def test_file_outputs_land_under_raw_data_path(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    run = flyte.with_runcontext(raw_data_path=str(raw)).run(file_pipeline, text="payload")
    text, f = run.outputs()
    assert text == "payload"
    assert f.path.startswith(str(raw))
    assert Path(f.path.removeprefix("file://")).read_text() == "payload"
    # without a raw data path, data goes under the run's own directory
    run2 = flyte.run(file_pipeline, text="again")
    assert run2.outputs()[1].path.startswith(run2.url.removeprefix("file://"))


_nr_calls = {"n": 0}


@env.task(retries=3)
async def give_up() -> int:
    _nr_calls["n"] += 1
    raise flyte.errors.NonRecoverableError("BadInput", "cannot continue")


def test_non_recoverable_error_is_not_retried() -> None:
    _nr_calls["n"] = 0
    with pytest.raises(RuntimeUserError, match="cannot continue") as e:
        flyte.run(give_up)
    assert _nr_calls["n"] == 1
    assert isinstance(e.value, RuntimeError)  # like the official SDK's errors
    assert flyte.errors.TaskTimeoutError is TaskTimedoutError


def test_disable_run_cache_and_custom_context() -> None:
    _calls["n"] = 0
    flyte.run(cached, x=5)
    flyte.with_runcontext(disable_run_cache=True).run(cached, x=5)
    assert _calls["n"] == 2


@env.task
async def ctx_fields() -> str:
    c = flyte.ctx()
    assert c is not None
    p = c.raw_data_path.get_random_remote_path("x.csv")
    assert p.startswith(c.raw_data_path.path) and p.endswith("/x.csv")
    with flyte.group("outer"):
        inner = await group_name()
    return f"{c.custom_context.get('team')}|{inner}|{c.version}"


@env.task
async def group_name() -> str:
    c = flyte.ctx()
    assert c is not None and c.group_data is not None
    return c.group_data.name


def test_ctx_has_the_official_shape() -> None:
    run = flyte.with_runcontext(custom_context={"team": "ml"}).run(ctx_fields)
    assert run.outputs()[0] == "ml|outer|local"


@env.task
async def returns_nothing(x: int) -> None:
    return None


def test_none_output_is_a_one_tuple() -> None:
    assert flyte.run(returns_nothing, x=1).outputs() == (None,)


def test_unknown_options_are_errors_with_a_suggestion() -> None:
    from flyte.errors import TaskDefinitionError

    with pytest.raises(TaskDefinitionError, match="unexpected option 'retires' \\(did you mean 'retries'\\?\\)"):

        @env.task(retires=3)
        async def typo() -> None:
            return None

    with pytest.raises(TypeError, match="unexpected option 'overwrite_cahce'"):
        flyte.with_runcontext(overwrite_cahce=True).run(add, x=1)
    # official options that mean nothing locally are accepted
    flyte.with_runcontext(copy_style="none", version="v1", interruptible=True)

    @env.task(service_account="sa", entrypoint=True)
    async def accepted() -> None:
        return None


def test_record_literal_maps_are_valid_protobuf() -> None:
    from flyte._builtin.local.records import _literal_map_bytes
    from flyteidl2.core.literals_pb2 import Literal, LiteralMap, Primitive, Scalar

    lits = {f"k{i}": Literal(scalar=Scalar(primitive=Primitive(string_value="v" * (i * 50)))) for i in range(5)}
    expected = LiteralMap(literals=lits).SerializeToString(deterministic=True)
    assert _literal_map_bytes({k: v.SerializeToString(deterministic=True) for k, v in lits.items()}) == expected


@flyte.trace
async def traced_helper(x: int) -> int:
    return x * 3


@env.task
async def uses_extras(x: int) -> str:
    with flyte.custom_context(stage="inner"):
        seen = await read_custom()
    return f"{await traced_helper(x)}|{seen}"


@env.task
async def read_custom() -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(flyte.get_custom_context().items()))


def test_trace_custom_context_and_cluster_settings() -> None:
    run = flyte.with_runcontext(custom_context={"team": "ml"}).run(uses_extras, x=2)
    assert run.outputs()[0] == "6|stage=inner,team=ml"
    reusable_env = flyte.TaskEnvironment(name="reuse", reusable=flyte.ReusePolicy(replicas=(1, 3)),
                                         resources=flyte.Resources(gpu=flyte.GPU("T4", 1)))
    assert reusable_env.resources.gpu.device == "T4"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="replicas"):
        flyte.ReusePolicy(replicas=0)
    assert flyte.get_custom_context() == {}


_file_calls = {"n": 0}


@env.task(cache="auto")
async def read_cached(f: flyte.io.File) -> str:
    _file_calls["n"] += 1
    async with f.open("rb") as fh:
        return (await fh.read()).decode()


def test_cache_of_a_local_file_input_follows_its_content(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("one")
    _file_calls["n"] = 0
    assert flyte.run(read_cached, f=flyte.io.File.from_local_sync(path)).outputs()[0] == "one"
    assert flyte.run(read_cached, f=flyte.io.File.from_local_sync(path)).outputs()[0] == "one"
    assert _file_calls["n"] == 1  # unchanged content: a cache hit
    path.write_text("two")
    assert flyte.run(read_cached, f=flyte.io.File.from_local_sync(path)).outputs()[0] == "two"
    assert _file_calls["n"] == 2


_consumer_calls = {"n": 0}


@env.task(cache="auto")
async def cached_consumer(f: flyte.io.File) -> int:
    _consumer_calls["n"] += 1
    async with f.open("rb") as fh:
        return len(await fh.read())


@env.task
async def produce_then_consume(text: str) -> int:
    f = await write_file(text)  # uploaded under this run's data folder: a new path every run
    return await cached_consumer(f)


def test_cache_hits_across_runs_for_files_made_inside_the_run() -> None:
    _consumer_calls["n"] = 0
    assert flyte.run(produce_then_consume, text="same bytes").outputs()[0] == 10
    assert flyte.run(produce_then_consume, text="same bytes").outputs()[0] == 10
    assert _consumer_calls["n"] == 1
    flyte.run(produce_then_consume, text="other bytes")
    assert _consumer_calls["n"] == 2


@env.task
async def interrupted() -> int:
    raise KeyboardInterrupt


def test_an_interrupted_run_is_recorded_as_aborted_and_the_interrupt_propagates() -> None:
    from flyte._builtin.local.records import load_run

    with pytest.raises(KeyboardInterrupt):
        flyte.with_runcontext(name="stopped").run(interrupted)
    summary, actions = load_run("stopped")
    assert summary["phase"] == "ABORTED"
    assert len(actions) == 1
