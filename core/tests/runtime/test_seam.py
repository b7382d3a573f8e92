"""The public execution seam: run handle, failure policy, body runners, per-task environment, remote mode."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import flyte
import pytest
from flyte.errors import EnvironmentIsolationWarning, RuntimeUserError, TaskTimedoutError, UnknownPluginError
from flyte.plugins import hookimpl, isolated_plugins
from flyte.runtime import (
    ActionOutputs,
    ActionRecord,
    BodyRunner,
    InProcessBodyRunner,
    InProcessController,
    InProcessRuntime,
    Phase,
    RunOptions,
    execute_body,
)

ROOT = Path(__file__).resolve().parents[3]

plain = flyte.TaskEnvironment(name="seam")
env_a = flyte.TaskEnvironment(name="env_a", env_vars={"SEAM_K": "A", "SEAM_ONLY_A": "1"})
env_b = flyte.TaskEnvironment(name="env_b", env_vars={"SEAM_K": "B"})


@plain.task
async def two(x: int) -> tuple[int, str]:
    return x * 2, f"x={x}"


@plain.task
async def one(x: int) -> int:
    return x + 1


@plain.task
async def nothing(x: int) -> None:
    return None


@plain.task
async def named_like_the_runner(task: str, mode: str) -> str:
    return f"{task}/{mode}"


def test_inputs_may_be_named_task_or_mode() -> None:
    assert flyte.run(named_like_the_runner, task="t", mode="m").outputs() == ("t/m",)
    run = asyncio.run(flyte.with_runcontext().submit(named_like_the_runner, task="a", mode="b"))
    assert run.outputs().o0 == "a/b"


@plain.task
async def boom(x: int) -> int:
    raise ValueError(f"boom {x}")


# -- handle and failure policy ----------------------------------------------------------------


def test_outputs_by_position_and_by_name() -> None:
    out = flyte.run(two, x=3).outputs()
    assert isinstance(out, ActionOutputs)
    assert out == (6, "x=3") and out[1] == "x=3"
    assert out.o0 == 6 and out.o1 == "x=3" and out.named_outputs == {"o0": 6, "o1": "x=3"}
    with pytest.raises(AttributeError, match="o2"):
        _ = out.o2
    single = flyte.run(one, x=1).outputs()
    assert single == (2,) and single.o0 == 2  # like the official SDK: one output is a 1-tuple
    none = flyte.run(nothing, x=1).outputs()
    assert none == (None,) and none.o0 is None  # and no output is (None,)


def test_handle_is_typed_and_failure_raises_from_run() -> None:
    run = flyte.run(one, x=1)
    assert run.phase is Phase.SUCCEEDED and run.error is None and run.name and run.url.startswith("file://")
    run.wait()  # nothing to wait for; does not raise
    run.abort()  # the run has ended: nothing to abort
    handle = run.handle  # what a runtime returns has the same typed API, for plugin authors and tools
    handle.wait()
    assert handle.outputs().o0 == 2 and handle.name == run.name and handle.error is None
    with pytest.raises(RuntimeUserError, match="boom 2") as e:
        flyte.run(boom, x=2)
    assert e.value.task == "seam.boom"


def test_submit_returns_the_failed_run_and_wait_outputs_raise() -> None:
    run = asyncio.run(flyte.with_runcontext().submit(boom, x=5))
    assert run.phase is Phase.FAILED and "boom 5" in str(run.error)
    with pytest.raises(RuntimeUserError, match="boom 5"):
        run.wait()
    with pytest.raises(RuntimeUserError, match="boom 5"):
        run.outputs()


class _Elsewhere(flyte.runtime.RunHandle):
    """A run going on somewhere else: running at first, failed once waited for."""

    def __init__(self) -> None:
        self.name = "elsewhere-1"
        self._phase = Phase.RUNNING

    @property
    def phase(self) -> Phase:
        return self._phase

    async def wait_async(self) -> None:
        self._phase = Phase.FAILED
        self.error = RuntimeUserError("ValueError", "failed over there", task="seam.one")
        raise self.error

    async def outputs_async(self) -> ActionOutputs:
        await self.wait_async()
        raise AssertionError("unreachable")


class ElsewhereRuntime(flyte.runtime.Runtime):
    name = "elsewhere"

    async def submit(self, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                     options: RunOptions) -> flyte.runtime.RunHandle:
        return _Elsewhere()


class _ElsewhereHooks:
    @hookimpl
    def flyte_runtimes(self) -> list[type[Any]]:
        return [ElsewhereRuntime]


def test_a_run_going_elsewhere_returns_then_raises_from_wait_and_outputs() -> None:
    with isolated_plugins(("elsewhere", _ElsewhereHooks())):
        run = flyte.with_runcontext(mode="elsewhere").run(one, x=1)  # does not raise: still running
        assert run.phase is Phase.RUNNING and run.error is None
        with pytest.raises(RuntimeUserError, match="failed over there"):
            run.wait()
        with pytest.raises(RuntimeUserError, match="failed over there"):
            run.outputs()


# -- body runners and the controller ---------------------------------------------------------------


@plain.task
async def child_calls(n: int) -> list[int]:
    return list(await asyncio.gather(*(one(i) for i in range(n))))


@plain.task
def one_sync(x: int) -> int:
    return x + 1


@plain.task
def sync_mode(x: int) -> str:
    ctx = flyte.ctx()
    assert ctx is not None
    return f"{ctx.mode}:{one_sync(x)}"


class CountingRunner(InProcessBodyRunner):
    mode = "counting"

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []
        self.closed = False

    async def run(self, task: Any, kwargs: dict[str, Any], record: ActionRecord) -> Any:
        self.ran.append(f"{record.name}:{task.short_name}")
        return await super().run(task, kwargs, record)

    async def close(self) -> None:
        self.closed = True
        await super().close()


class CountingRuntime(InProcessRuntime):
    name = "counting"
    runner: CountingRunner | None = None

    async def open_runner(self, task: Any, options: RunOptions) -> BodyRunner:
        CountingRuntime.runner = CountingRunner()
        return CountingRuntime.runner


class _CountingHooks:
    @hookimpl
    def flyte_runtimes(self) -> list[type[Any]]:
        return [CountingRuntime]


def test_a_runtime_on_the_public_seam_swaps_how_bodies_run() -> None:
    with isolated_plugins(("counting", _CountingHooks())):
        out = flyte.with_runcontext(mode="counting").run(child_calls, n=3).outputs()
        assert out == ([1, 2, 3],)
        runner = CountingRuntime.runner
        assert runner is not None and runner.closed
        assert sorted(runner.ran) == ["a0:child_calls", "a1:one", "a2:one", "a3:one"]
        # sync bodies on threads, children through the same controller, ctx().mode is the runner's
        assert flyte.with_runcontext(mode="counting").run(sync_mode, x=1).outputs() == ("counting:2",)


@plain.task(timeout=0.2)
async def raises_timeout_itself(x: int) -> int:
    raise TimeoutError("my own timeout")


@plain.task(timeout=0.2)
async def too_slow(x: int) -> int:
    await asyncio.sleep(5)
    return x


def test_timeouts_are_the_controllers_and_a_bodys_own_timeout_error_is_not_one() -> None:
    with pytest.raises(TaskTimedoutError, match=r"timed out after 0.2s"):
        flyte.run(too_slow, x=1)
    with pytest.raises(RuntimeUserError, match="my own timeout") as e:
        flyte.run(raises_timeout_itself, x=1)
    assert not isinstance(e.value, TaskTimedoutError)


@plain.task
async def parent_of_remote_children(n: int) -> int:
    return sum(await asyncio.gather(*(one(i) for i in range(n))))


def test_execute_body_with_another_controller_is_the_remote_worker_shape(tmp_path: Path) -> None:
    """One body run in process, its child calls handed to a controller of another kind (as the worker will)."""
    from flyte.runtime import ActionID, Controller, RawDataPath, TaskContext
    from flyte.types.interface import inputs_to_literals, literals_to_outputs

    class Enqueuing(Controller):
        def __init__(self) -> None:
            self.enqueued: list[tuple[str, tuple[Any, ...]]] = []

        async def submit(self, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            self.enqueued.append((task.name, args))
            return 100

        def submit_sync(self, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            raise AssertionError("not used")

    async def worker() -> int:
        controller = Enqueuing()
        runner = InProcessBodyRunner()
        runner.attach(controller, 10)
        tc = TaskContext(action=ActionID(name="a7", run_name="r"), raw_data_path=RawDataPath(str(tmp_path)),
                         run_base_dir=str(tmp_path), controller=controller)
        iface = parent_of_remote_children.interface
        outs = await execute_body(parent_of_remote_children, await inputs_to_literals(iface, (), {"n": 3}), tc,
                                  runner, ActionRecord("a7", parent_of_remote_children.name, None))
        await runner.close()
        assert controller.enqueued == [("seam.one", (0,)), ("seam.one", (1,)), ("seam.one", (2,))]
        return int(await literals_to_outputs(iface, outs))

    assert asyncio.run(worker()) == 300


def test_action_records_keep_literals_serialized_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The record's input bytes are the ones the cache key is made of (no second serialization)."""
    from flyte.runtime import cache_keys

    seen: list[dict[str, bytes]] = []
    original = cache_keys.inputs_digest

    def spy(serialized: dict[str, bytes]) -> str:
        seen.append(dict(serialized))
        return original(serialized)

    monkeypatch.setattr(cache_keys, "inputs_digest", spy)
    cached_env = flyte.TaskEnvironment(name="seam_cached", cache="auto")

    @cached_env.task
    async def cached_one(x: int) -> int:
        return x + 1

    records: list[ActionRecord] = []

    async def go() -> None:
        controller = InProcessController(InProcessBodyRunner(), run_name="r", raw_data_path="/tmp/x",
                                         run_base_dir="/tmp/x", disable_run_cache=False)
        try:
            assert await controller.run_root(cached_one, (41,), {}) == 42
        finally:
            controller.close()
            await controller.runner.close()
        records.extend(controller.actions)

    asyncio.run(go())
    assert len(records) == 1 and records[0].inputs is not None and records[0].outputs is not None
    assert seen and seen[0] == records[0].inputs
    # the same digest as the type engine's literals_hash of the messages
    from flyte.types.interface import literals_hash
    from flyteidl2.core.literals_pb2 import Literal

    msgs = {k: Literal.FromString(v) for k, v in records[0].inputs.items()}
    assert original(records[0].inputs) == literals_hash(msgs)


# -- per-task environment -----------------------------------------------------------------------------


@env_a.task
async def read_a(delay: float) -> str:
    await asyncio.sleep(delay)
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('SEAM_K'))"],
                          capture_output=True, text=True, check=True)
    return f"{os.environ['SEAM_K']},{os.getenv('SEAM_K')},{proc.stdout.strip()}"


@env_b.task
async def read_b(delay: float) -> str:
    await asyncio.sleep(delay)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "import os; print(os.environ.get('SEAM_K'))",
                                                stdout=asyncio.subprocess.PIPE)
    stdout, _ = await proc.communicate()
    return f"{os.environ['SEAM_K']},{os.getenv('SEAM_K')},{stdout.decode().strip()}"


@env_a.task
def read_a_sync(delay: float) -> str:
    import time

    time.sleep(delay)
    return f"{os.environ['SEAM_K']}{os.getenv('SEAM_K')}"


@env_b.task
def read_b_sync(delay: float) -> str:
    import time

    time.sleep(delay)
    child = subprocess.check_output([sys.executable, "-c", "import os; print(os.environ['SEAM_K'])"], text=True)
    return f"{os.environ['SEAM_K']}{os.getenv('SEAM_K')}{child.strip()}"


@plain.task
async def read_plain() -> str:
    return f"{os.environ.get('SEAM_K')}|{os.environ.get('SEAM_ONLY_A')}|{os.environ.get('SEAM_RUN')}"


@plain.task
async def concurrent_envs() -> list[str]:
    return list(await asyncio.gather(read_a(0.2), read_b(0.1), read_a_sync.aio(0.2), read_b_sync.aio(0.1),
                                     read_plain()))


def test_concurrent_tasks_each_see_their_own_environment() -> None:
    before = dict(os.environ)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = flyte.with_runcontext(env_vars={"SEAM_RUN": "r"}).run(concurrent_envs).outputs()[0]
    a, b, sa, sb, p = out
    assert a == "A,A,A"  # os.environ, os.getenv, a subprocess started without env=
    assert b == "B,B,B"  # the same with asyncio's subprocesses
    assert sa == "AA" and sb == "BBB"  # sync bodies on threads (and a subprocess of one)
    assert p == "None|None|r"  # a task without env sees the run's variables and not its siblings'
    isolation = [w for w in caught if issubclass(w.category, EnvironmentIsolationWarning)]
    assert len(isolation) == 1  # once per run, naming both environments
    message = str(isolation[0].message)
    assert "'env_a'" in message and "'env_b'" in message and "SEAM_K" in message
    assert dict(os.environ) == before and type(os.environ).__name__ == "_Environ"  # restored after the run


@env_a.task
def thread_reader(delay: float) -> str:
    import threading
    import time

    time.sleep(delay)
    seen: list[str | None] = []
    t = threading.Thread(target=lambda: seen.append(os.environ.get("SEAM_ONLY_A")))  # no copied context
    t.start()
    t.join()
    return f"{seen[0]}"


@plain.task
async def plain_reader(delay: float) -> str:
    await asyncio.sleep(delay)
    return f"{os.environ.get('SEAM_ONLY_A')}"


@plain.task
async def threads_and_plain() -> list[str]:
    return list(await asyncio.gather(thread_reader.aio(0.05), plain_reader(0.2)))


def test_threads_a_body_starts_see_the_process_view_and_plain_tasks_see_none_of_it() -> None:
    """A thread started without the task's context reads what C code reads (the last value set), as before;
    a task without variables never sees another task's."""
    assert flyte.run(threads_and_plain).outputs()[0] == ["1", "None"]
    assert "SEAM_ONLY_A" not in os.environ


def test_tasks_without_env_install_nothing() -> None:
    environ = os.environ
    seen: list[str] = []

    @plain.task
    async def look() -> str:
        seen.append(type(os.environ).__name__)
        return "ok"

    assert flyte.run(look).outputs() == ("ok",)
    assert seen == ["_Environ"] and os.environ is environ


def test_secrets_are_per_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEAM_SECRET_SRC", "s3cr3t")
    senv = flyte.TaskEnvironment(name="seam_secret", secrets=[flyte.Secret(key="seam_secret_src",
                                                                         as_env_var="SEAM_SECRET_SRC")])

    @senv.task
    async def has_secret() -> str:
        return os.environ["SEAM_SECRET_SRC"]

    assert flyte.run(has_secret).outputs() == ("s3cr3t",)


# -- endpoint configured, no remote runtime ----------------------------------------------------------


def test_endpoint_without_remote_runtime_is_one_line_and_local_still_runs(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("admin:\n  endpoint: dns:///flyte.example.com\n")
    flyte.init_from_config(str(cfg))
    try:
        with pytest.raises(UnknownPluginError) as e:
            flyte.run(one, x=1)
        message = str(e.value)
        assert "\n" not in message
        assert "dns:///flyte.example.com" in message and "'remote' runtime is not installed" not in message
        assert "no 'remote' runtime is installed" in message and "--local" in message
        assert str(cfg) in message
        assert flyte.with_runcontext(mode="local").run(one, x=1).outputs() == (2,)
    finally:
        flyte.init()


def test_cli_uses_the_same_runner_and_local_flag_wins_over_an_endpoint(tmp_path: Path) -> None:
    wf = tmp_path / "wf.py"
    wf.write_text(
        "import flyte\nenv = flyte.TaskEnvironment(name='cli_seam')\n\n"
        "@env.task\nasync def add(x: int) -> int:\n    return x + 1\n\n"
        "@env.task\nasync def bad(x: int) -> int:\n    raise ValueError(f'bad {x}')\n"
    )
    (tmp_path / ".flyte").mkdir()
    (tmp_path / ".flyte" / "config.yaml").write_text("admin:\n  endpoint: dns:///flyte.example.com\n")
    # flyte-remote may be installed in this environment: blocked, the CLI meets a config naming an endpoint and no
    # remote runtime, which is what a user without flyte-remote meets.
    env = dict(os.environ, FLYTE_DISABLE_PLUGINS="gcs,azure,s3,docker,podman,sandbox,example,remote", COLUMNS="200")
    env.pop("FLYTE_CONFIG", None)
    flyte_cli = [sys.executable, "-m", "flyte.cli.main"]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*flyte_cli, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)

    p = cli("run", "wf.py", "add", "--x", "1")
    assert p.returncode != 0
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "dns:///flyte.example.com" in lines[0] and "--local" in lines[0], p.stderr
    assert "blocked by FLYTE_DISABLE_PLUGINS" in lines[0]
    ok = cli("run", "--local", "wf.py", "add", "--x", "1")
    assert ok.returncode == 0, ok.stderr
    assert re.search(r"o0 = 2", ok.stdout)
    failed = cli("run", "--runtime", "local", "wf.py", "bad", "--x", "4")
    assert failed.returncode == 1 and "failed" in failed.stderr and "bad 4" in failed.stderr


def test_cli_execute_goes_through_runner_submit_in_one_loop(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from flyte import _run
    from flyte.cli.run import execute

    calls: list[str] = []
    submit = _run.Runner.submit

    async def counting(self: Any, task: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(task.name)
        return await submit(self, task, *args, **kwargs)

    def no_second_loop(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the CLI runs a run in one event loop, not through asyncio.run")

    monkeypatch.setattr(_run.Runner, "submit", counting)
    monkeypatch.setattr(asyncio, "run", no_second_loop)
    assert execute(two, {"x": 2}, {"runtime": "local", "progress": False}) == 0
    out = capsys.readouterr().out
    assert "o0 = 4" in out and "o1 = 'x=2'" in out
    assert execute(boom, {"x": 1}, {"runtime": "local", "progress": False}) == 1
    assert "boom 1" in capsys.readouterr().err
    assert calls == ["seam.two", "seam.boom"]


def test_no_plugin_imports_a_private_flyte_module_or_names_a_core_class_by_string() -> None:
    """Plugins build on public names only (issue 9): no `flyte._*` import, no `__name__ == "SomeClass"` check."""
    private = re.compile(r"^\s*(from|import)\s+flyte\._", re.MULTILINE)
    by_name = re.compile(r"__name__\s*==\s*[\"'](?!__main__)[A-Z_]")
    files = [*ROOT.glob("plugins/*/*/src/**/*.py"), *ROOT.glob("examples/plugins/**/*.py")]
    assert len(files) > 20
    offenders = [f"{f.relative_to(ROOT)}: {m.group(0).strip()}" for f in files
                 for m in (*private.finditer(f.read_text()), *by_name.finditer(f.read_text()))]
    assert offenders == []


# -- the docs example ---------------------------------------------------------------------------------


def test_plugins_doc_example_runs_and_matches_the_file() -> None:
    example = ROOT / "examples" / "plugins" / "timing_runtime.py"
    doc = (ROOT / "docs" / "plugins.md").read_text()
    body = example.read_text().split('"""', 2)[2].strip()  # the code after the module docstring
    assert body.split("\n\n\nif __name__")[0].strip() in doc, "docs/plugins.md shows the example as it is"
    p = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ))
    assert p.returncode == 0, p.stderr
    assert "['timed', 'timed', 'timed']" in p.stdout
