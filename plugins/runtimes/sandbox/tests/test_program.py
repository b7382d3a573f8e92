"""Tasks the sandbox cannot run are refused when the run starts, naming the task and the line."""

import enum
import subprocess
import sys
from pathlib import Path

import flyte
import pytest
from flyte.errors import SandboxError
from flyte_sandbox.program import build_program

env = flyte.TaskEnvironment(name="prog")
HERE = Path(__file__)
LIMIT = 10
SCALE = 10


def line_of(marker: str) -> int:
    for i, text in enumerate(HERE.read_text().splitlines(), 1):
        if text.rstrip().endswith(f"# {marker}"):
            return i
    raise AssertionError(marker)


@env.task
def imports_socket() -> int:
    import socket  # L:socket

    return socket.AF_INET


@env.task
def uses_subprocess() -> int:
    return subprocess.call(["true"])  # L:subprocess


@env.task
def os_system() -> int:
    import os

    return os.system("true")  # L:system


@env.task
def inherits() -> int:
    class A:
        x = 1

    class B(A):  # L:inherit
        pass

    return B().x


@env.task
def generator() -> list[int]:
    def numbers():
        yield 1  # L:yield

    return list(numbers())


@env.task
def global_state() -> int:
    global LIMIT  # L:global
    LIMIT = 3
    return LIMIT


@env.task
async def async_with() -> int:
    async with something() as x:  # noqa: F821  # L:asyncwith
        return x
    return 0


class Color(enum.Enum):
    RED = "red"


@env.task
def enum_input(c: Color) -> str:
    return c.value


@env.task
async def calls_refused() -> int:
    return await imports_socket()


def double(x: int) -> int:
    return 2 * x


@pytest.mark.parametrize("task, marker, words", [
    (imports_socket, "L:socket", "imports 'socket'"),
    (uses_subprocess, "L:subprocess", "module 'subprocess'"),
    (os_system, "L:system", "os.system is not available"),
    (inherits, "L:inherit", "inherits from another class"),
    (generator, "L:yield", "generators (yield)"),
    (global_state, "L:global", "'global' statements"),
    (async_with, "L:asyncwith", "'async with'"),
])
def test_refused_with_task_and_line(task, marker, words):
    with pytest.raises(SandboxError) as e:
        build_program(task)
    msg = str(e.value)
    assert f"Task '{task.name}'" in msg
    assert f"test_program.py:{line_of(marker)}" in msg
    assert words in msg


def test_unsupported_type_is_refused():
    with pytest.raises(SandboxError, match=r"Task 'prog.enum_input'.*input 'c' has type Color"):
        build_program(enum_input)


def test_refused_before_anything_runs(sandbox_run, tmp_path):
    """A bad child is found when the run starts: no run directory, no action ran."""
    with pytest.raises(SandboxError, match=r"Task 'prog.imports_socket'.*imports 'socket'"):
        sandbox_run(calls_refused)
    runs = tmp_path / "flyte-home" / "runs"
    assert not runs.exists() or not any(runs.iterdir())


def test_same_task_runs_locally(sandbox_run):
    """The refusal is the sandbox's: the local runtime runs it."""
    assert sandbox_run(global_state, mode="local") == (3,)


def test_helpers_and_constants_are_carried_in():
    prog = build_program(helper_user2)
    assert "def double(" in prog.definitions
    assert prog.host_values == {"SCALE": 10}
    # The body keeps its line numbers: the `return` maps back to this file.
    ret = next(i for i, ln in enumerate(prog.call_code.splitlines(), 1) if "return double(x)" in ln)
    assert prog.where(ret) == f"test_program.py:{line_of('L:helper-return')}"


@env.task
def helper_user2(x: int) -> int:
    return double(x) + SCALE  # L:helper-return


def test_source_is_read_once():
    prog = build_program(helper_user2)
    assert prog.pure and not prog.is_async


def test_import_flyte_does_not_import_monty():
    code = ("import sys, flyte, flyte_sandbox, flyte_sandbox.hooks\n"
            "from flyte_sandbox import Sandbox\nSandbox(timeout=1)\n"
            "assert 'pydantic_monty' not in sys.modules, 'imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_flyte_help_does_not_import_monty():
    code = ("import sys\nfrom flyte.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'pydantic_monty' not in sys.modules, 'imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)


def test_program_is_built_once_and_rebuilt_when_a_global_changes(monkeypatch):
    from flyte_sandbox.executor import program_for

    first = program_for(helper_user2)
    assert program_for(helper_user2) is first
    monkeypatch.setitem(helper_user2.func.__globals__, "SCALE", 11)
    again = program_for(helper_user2)
    assert again is not first and again.host_values == {"SCALE": 11}
