"""The sandbox runtime runs real workflows: fan-out, flyte.map, records, child errors, cache, grants."""

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import flyte
import pytest
from flyte.errors import RuntimeUserError, TaskTimedoutError
from flyte.io import File
from flyte_sandbox import Sandbox
from flyte_sandbox.errors import SandboxLimitError

env = flyte.TaskEnvironment(name="rt")


@dataclass
class Point:
    x: int
    y: int


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
def cube(x: int) -> int:
    return x * x * x


@env.task
async def gather_idiom(n: int) -> list[int]:
    return await asyncio.gather(*(square(i) for i in range(n)))


@env.task
async def gather_list(n: int) -> int:
    coros = []
    for i in range(n):
        coros.append(square.aio(i))
    done = await asyncio.gather(*coros)
    return sum(done)


@env.task
async def map_async(n: int) -> list[int]:
    out = []
    async for c in flyte.map.aio(cube, range(n), concurrency=4):
        out.append(c)
    return [c async for c in flyte.map.aio(cube, range(n))] + out


@env.task
def map_sync(n: int) -> list[int]:
    return list(flyte.map(cube, range(n)))


@env.task
def sync_parent(x: int) -> int:
    return cube(x) + cube(x + 1)


@env.task
def make_point(x: int) -> Point:
    return Point(x=x, y=x + 1)


@env.task
def flip(p: Point) -> Point:
    return Point(x=p.y, y=p.x)


@env.task
async def points(n: int) -> list[Point]:
    ps = await asyncio.gather(*(make_point.aio(i) for i in range(n)))
    return [await flip.aio(p) for p in ps]


@env.task
def fails(x: int) -> int:
    if x == 2:
        raise ValueError(f"no twos ({x})")
    return x


@env.task
async def catches(n: int) -> list[str]:
    out = []
    for i in range(n):
        try:
            out.append(str(await fails.aio(i)))
        except Exception as e:
            out.append(f"caught: {e}")
    return out


@env.task
async def propagates() -> int:
    return await fails.aio(2)


@env.task(cache="auto")
async def cached(x: int) -> int:
    return x + 1


@env.task
def reads(name: str) -> str:
    return open(f"/data/{name}").read()


@env.task
def writes(name: str) -> int:
    with open(f"/data/{name}", "w") as f:
        return f.write("x")


@env.task
def greeting() -> str:
    import os

    return os.getenv("GREETING", "unset")


@env.task
def slow(x: int) -> int:
    import time

    time.sleep(2)
    return x


@env.task(timeout=0.5)
async def impatient() -> int:
    return await slow.aio(1)


@env.task
def talks(x: int) -> int:
    print(f"hello from the sandbox {x}")
    return x


def test_gather_fan_out(sandbox_run):
    assert sandbox_run(gather_idiom, n=20) == ([i * i for i in range(20)],)
    assert sandbox_run(gather_list, n=20) == (sum(i * i for i in range(20)),)


def test_flyte_map(sandbox_run):
    cubes = [i**3 for i in range(6)]
    assert sandbox_run(map_async, n=6) == (cubes + cubes,)
    assert sandbox_run(map_sync, n=6) == (cubes,)


def test_sync_bodies_call_tasks(sandbox_run):
    assert sandbox_run(sync_parent, x=2) == (8 + 27,)


def test_records_cross_both_ways(sandbox_run):
    assert sandbox_run(points, n=3) == ([Point(1, 0), Point(2, 1), Point(3, 2)],)
    assert sandbox_run(flip, p=Point(1, 2)) == (Point(2, 1),)


def test_child_errors(sandbox_run):
    assert sandbox_run(catches, n=4) == (["0", "1", "caught: task 'rt.fails' (action a3) failed: ValueError: no "
                                                 "twos (2)", "3"],)
    with pytest.raises(RuntimeUserError, match=r"ValueError: no twos \(2\)"):
        sandbox_run(propagates)


def test_cache_is_the_local_runtimes(sandbox_run, tmp_path):
    assert sandbox_run(cached, x=1) == (2,)
    run = flyte.with_runcontext(mode="sandbox").run(cached, x=1)
    assert run.outputs() == (2,)
    record = json.loads((Path(run.handle.directory) / "run.json").read_text())
    assert record["counts"] == {"cached": 1}


def test_read_only_mount(sandbox_run, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("mounted")
    sb = Sandbox(mount=data)
    assert sandbox_run(reads.override(sandbox=sb), name="a.txt") == ("mounted",)
    with pytest.raises(RuntimeUserError, match="PermissionError"):
        sandbox_run(writes.override(sandbox=sb), name="b.txt")
    assert not (data / "b.txt").exists()
    with pytest.raises(RuntimeUserError, match=r"no access to '/etc/passwd'.*only /data \(read-only\)"):
        sandbox_run(reads.override(sandbox=sb), name="../etc/passwd")


def test_granted_env_var(sandbox_run, monkeypatch):
    monkeypatch.setenv("GREETING", "hi")
    assert sandbox_run(greeting.override(sandbox=Sandbox(env=["GREETING"]))) == ("hi",)
    with pytest.raises(RuntimeUserError, match=r"'GREETING' is not granted.*Sandbox\(env=\['GREETING'\]\)"):
        sandbox_run(greeting)


@pytest.mark.slow
def test_task_timeout_covers_waiting_on_children(sandbox_run):
    with pytest.raises(TaskTimedoutError, match="rt.impatient"):
        sandbox_run(impatient)


def test_print_reaches_stdout(sandbox_run, capfd):
    assert sandbox_run(talks, x=7) == (7,)
    assert "hello from the sandbox 7" in capfd.readouterr().out


def test_limits_apply_per_override(sandbox_run):
    tight = Sandbox(memory="8MB")

    @env.task
    def big(n: int) -> int:
        return len("x" * n)

    assert sandbox_run(big, n=20 * 2**20) == (20 * 2**20,)
    with pytest.raises(SandboxLimitError, match=r"task 'rt.big' \(action a0\) exceeded the sandbox memory limit of 8"):
        sandbox_run(big.override(sandbox=tight), n=20 * 2**20)


def test_built_on_the_public_seam_only():
    """The runtime is an InProcessRuntime whose body runner runs bodies in Monty; no private flyte module."""
    import re

    import flyte_sandbox
    from flyte.runtime import BodyRunner, InProcessRuntime
    from flyte_sandbox.runtime import SandboxBodyRunner, SandboxRuntime

    assert issubclass(SandboxRuntime, InProcessRuntime) and issubclass(SandboxBodyRunner, BodyRunner)
    assert SandboxBodyRunner.mode == "sandbox"
    private = re.compile(r"^\s*(from|import)\s+flyte\._", re.MULTILINE)
    for f in Path(flyte_sandbox.__file__).parent.glob("*.py"):
        assert not private.search(f.read_text()), f"{f.name} imports a private flyte module"


@env.task
async def fails_in_sandbox(x: int) -> int:
    raise ValueError(f"no {x}")


def test_failed_run_raises_from_flyte_run_like_local():
    """The failure policy is the runtime's kind, not its name: an in-process run that failed raises."""
    for mode in ("local", "sandbox"):
        with pytest.raises(RuntimeUserError, match="no 3"):
            flyte.with_runcontext(mode=mode).run(fails_in_sandbox, x=3)
    run = asyncio.run(flyte.with_runcontext(mode="sandbox").submit(fails_in_sandbox, x=4))
    assert run.phase == "FAILED" and "no 4" in str(run.error)
    with pytest.raises(RuntimeUserError, match="no 4"):
        run.outputs()


@env.task
async def middle(n: int) -> int:
    parts = await asyncio.gather(*(square(i) for i in range(n)))
    return sum(parts)


@env.task
async def top(n: int) -> int:
    subs = []
    for i in range(n):
        subs.append(middle(i + 1))
    return sum(await asyncio.gather(*subs))


def test_parents_waiting_on_children_do_not_starve_them(monkeypatch):
    """One running body at a time: parents waiting on children give way, so nested fan-outs finish."""
    monkeypatch.setenv("FLYTE_SANDBOX_WORKERS", "1")
    run = flyte.with_runcontext(mode="sandbox").run(top, n=6)
    assert run.outputs() == (sum(sum(i * i for i in range(k + 1)) for k in range(6)),)


@env.task
def file_name(f: File) -> str:
    return f.name


@env.task
def same_file(f: File) -> File:
    return f


def test_files_cross_as_references(sandbox_run, tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("hi")
    assert sandbox_run(file_name, f=File(path=str(p))) == ("a.txt",)
    (out,) = sandbox_run(same_file, f=File(path=str(p)))
    assert isinstance(out, File) and out.path == str(p)


@env.task
async def overrides(x: int) -> int:
    return await cube.override(retries=2).aio(x) + await square(x=x)


def test_override_and_keyword_calls_in_a_body(sandbox_run):
    assert sandbox_run(overrides, x=3) == (27 + 9,)


def test_source_is_read_and_checked_once_per_task(sandbox_run, monkeypatch):
    import flyte_sandbox.executor as executor

    built = []
    real = executor.build_program

    def counting(task):
        built.append(task.name)
        return real(task)

    monkeypatch.setattr(executor, "build_program", counting)
    monkeypatch.setattr(executor, "_PROGRAMS", type(executor._PROGRAMS)())
    for _ in range(3):
        assert sandbox_run(gather_idiom, n=30) == ([i * i for i in range(30)],)
    assert sorted(built) == ["rt.gather_idiom", "rt.square"]


@env.task
async def gather_with_exceptions(n: int) -> list[str]:
    out = await asyncio.gather(*(fails.aio(i) for i in range(n) if i != 1), return_exceptions=True)
    return [("error" if isinstance(r, Exception) else str(r)) for r in out]


def test_gather_idiom_keeps_its_options(sandbox_run):
    assert sandbox_run(gather_with_exceptions, n=4) == (["0", "error", "3"],)
    assert sandbox_run(gather_with_exceptions, mode="local", n=4) == (["0", "error", "3"],)


@env.task(retries=2)
def always_fails(x: int) -> int:
    raise ValueError(f"bad {x}")


def test_retries_are_the_controllers(sandbox_run):
    for mode in ("local", "sandbox"):
        with pytest.raises(RuntimeUserError, match=r"ValueError: bad 1 \(after 3 attempts\)"):
            sandbox_run(always_fails, mode=mode, x=1)


@env.task(sandbox=Sandbox(timeout=1))
def busy(n: int) -> int:
    s = 0
    for i in range(n):
        s += i
    return s


@env.task
async def many_busy(k: int, n: int) -> list[int]:
    return await asyncio.gather(*(busy.aio(n) for _ in range(k)))


@pytest.mark.slow
def test_shared_feeds_never_cost_a_call_its_limit():
    """24 calls of ~0.08 s each (on an idle 2-CPU machine) fit a 1 s limit alone, with room for a loaded
    machine, but not 16 in one shared feed (the first feed's size): they still all succeed. One body runs at a
    time, so the calls run alone do not compete with each other for the CPU (the limit is wall-clock time)."""
    n = 750_000
    run = flyte.with_runcontext(mode="sandbox", sandbox_workers=1).run(many_busy, k=24, n=n)
    assert run.outputs() == ([n * (n - 1) // 2] * 24,)


@env.task
async def names_of_tasks() -> list[str]:
    return [square.name, middle.name, square.override(sandbox=None).name]


def test_task_handle_name_inside_a_body(sandbox_run):
    assert sandbox_run(names_of_tasks) == sandbox_run(names_of_tasks, mode="local")
