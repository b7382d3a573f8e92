"""Tasks the sandbox cannot run are refused when the run starts, naming the task and the line."""

import enum
import subprocess
import sys
from dataclasses import dataclass
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


@env.task
def from_os_import_system() -> int:
    from os import system  # L:from-os

    return system("true")


@env.task
def getattr_os_system() -> int:
    import os

    return getattr(os, "system")("true")  # L:getattr-os


@env.task
def getattr_os_computed(name: str) -> int:
    import os

    return getattr(os, name)("true")  # L:getattr-computed


@env.task
def module_level_system() -> int:
    return module_system("true")  # L:module-system


module_system = __import__("os").system


@env.task
def raises_connection_error() -> int:
    raise ConnectionError("down")  # L:connection-error


ATTEMPTS: dict[str, int] = {}
SEEN: list[int] = []


@env.task
def counts_attempts(key: str) -> int:
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1  # L:mutate-dict
    return ATTEMPTS[key]


@env.task
def appends(x: int) -> int:
    SEEN.append(x)  # L:mutate-list
    return len(SEEN)


class Color(enum.Enum):
    RED = "red"


@env.task
def enum_input(c: Color) -> str:  # L:enum-def
    return c.value


@env.task
async def calls_refused() -> int:
    return await imports_socket.aio()


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
    (from_os_import_system, "L:from-os", "os.system is not available"),
    (getattr_os_system, "L:getattr-os", "os.system is not available"),
    (getattr_os_computed, "L:getattr-computed", "getattr(os, ...) with a computed name"),
    (module_level_system, "L:module-system", "os.system: not available"),
    (raises_connection_error, "L:connection-error", "exception class 'ConnectionError', which the sandbox does "
                                                    "not provide; raise or catch 'OSError'"),
    (counts_attempts, "L:mutate-dict", "changes the module-level 'ATTEMPTS'"),
    (appends, "L:mutate-list", "changes the module-level 'SEEN'"),
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


def test_unsupported_type_names_the_def_line():
    with pytest.raises(SandboxError) as e:
        build_program(enum_input)
    assert f"(test_program.py:{line_of('L:enum-def')})" in str(e.value)


def test_os_names_that_are_allowed_still_pass():
    build_program(os_allowed)


@env.task
def os_allowed() -> str:
    import os
    from os import getenv, path

    return path.join(getattr(os, "sep"), getenv("X", "y"))


@dataclass
class Point:
    x: int
    y: int = 0


@env.task
async def default_record(p: Point = Point(x=1), scale: int = LIMIT * 2) -> int:
    return (p.x + p.y) * scale


def test_default_record_argument_runs(sandbox_run):
    """Defaults are decoded by the host and passed in, so a record default is never evaluated in the sandbox."""
    assert sandbox_run(default_record) == sandbox_run(default_record, mode="local") == (20,)
    assert sandbox_run(default_record, p=Point(x=2, y=3)) == (100,)


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


def read_once_helper(x: int) -> int:
    return x + 1


@env.task
def read_once_child(x: int) -> int:
    return read_once_helper(x)


@env.task
def read_once_parent(n: int) -> int:
    return sum(read_once_child(i) for i in range(n)) + read_once_child(n)


def test_source_is_read_once(monkeypatch, sandbox_run):
    """A task's source (and each helper's) is read once, however often it is called, in one run or many."""
    import types

    import flyte_sandbox.program as program

    reads: dict[str, int] = {}

    def counting(obj):
        reads[obj.__name__] = reads.get(obj.__name__, 0) + 1
        return real(obj)

    real = program.inspect.getsourcelines
    monkeypatch.setattr(program, "inspect", types.SimpleNamespace(**{**vars(program.inspect),
                                                                      "getsourcelines": counting}))
    assert sandbox_run(read_once_parent, n=6) == (28,)
    assert sandbox_run(read_once_parent, n=3) == (10,)
    assert sandbox_run(read_once_child, x=1) == (2,)
    assert reads == {"read_once_parent": 1, "read_once_child": 1, "read_once_helper": 1}


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
