"""``RuntimeConformance``: what every runtime must do, as a pytest suite a runtime plugin subclasses.

    # tests/test_conformance.py of a runtime plugin
    import pytest
    from flyte.testing.runtime import RuntimeConformance

    class TestMyRuntime(RuntimeConformance):
        @pytest.fixture
        def runtime_name(self):
            return "mine"

The runtime must be registered while the tests run (for example with
``flyte.plugins.isolated_plugins(("mine", my_hooks))`` in an autouse fixture), and
``FLYTE_HOME`` should point at a temporary folder. The tasks below are plain enough for any
runtime, including sandboxed ones: async bodies, no module state, primitive and record types.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

import flyte

env = flyte.TaskEnvironment(name="conformance")


@dataclass
class Point:
    x: int
    y: int


@env.task
async def add(x: int, y: int = 1) -> int:
    return x + y


@env.task
async def fan_out(n: int) -> list[int]:
    return await asyncio.gather(*(add(i, 10) for i in range(n)))


@env.task
async def chain(n: int) -> int:
    total = 0
    for i in range(n):
        total = await add(total, i)
    return total


@env.task
async def mapped(n: int) -> list[int]:
    return [r async for r in flyte.map.aio(add, range(n))]


@env.task
async def move(p: Point, dx: int) -> Point:
    return Point(x=p.x + dx, y=p.y)


@env.task
async def two_outputs(x: int) -> tuple[int, str]:
    return x * 2, f"x={x}"


@env.task
async def fails(x: int) -> int:
    raise ValueError(f"bad value {x}")


@env.task
async def calls_failing(x: int) -> int:
    return await fails(x)


class RuntimeConformance:
    """Subclass and provide a ``runtime_name`` fixture naming a registered runtime."""

    @pytest.fixture
    def runtime_name(self) -> str:
        raise NotImplementedError("subclasses provide the runtime_name fixture")

    def run(self, runtime_name: str, task: Any, **inputs: Any) -> tuple[Any, ...]:
        return tuple(flyte.with_runcontext(mode=runtime_name).run(task, **inputs).outputs())

    def test_outputs_are_a_tuple(self, runtime_name: str) -> None:
        assert self.run(runtime_name, add, x=1, y=2) == (3,)
        assert self.run(runtime_name, add, x=1) == (2,)  # default input

    def test_multiple_outputs(self, runtime_name: str) -> None:
        assert self.run(runtime_name, two_outputs, x=4) == (8, "x=4")

    def test_fan_out_with_gather(self, runtime_name: str) -> None:
        assert self.run(runtime_name, fan_out, n=20) == ([i + 10 for i in range(20)],)

    def test_sequential_chain(self, runtime_name: str) -> None:
        assert self.run(runtime_name, chain, n=10) == (sum(range(10)),)

    def test_map(self, runtime_name: str) -> None:
        assert self.run(runtime_name, mapped, n=8) == ([i + 1 for i in range(8)],)

    def test_records_cross_task_boundaries(self, runtime_name: str) -> None:
        assert self.run(runtime_name, move, p=Point(1, 2), dx=3) == (Point(4, 2),)

    def test_child_error_reaches_the_caller_naming_the_task(self, runtime_name: str) -> None:
        with pytest.raises(Exception) as e:
            self.run(runtime_name, calls_failing, x=7)
        assert "conformance.fails" in str(e.value) and "bad value 7" in str(e.value)

    def test_handle_api(self, runtime_name: str) -> None:
        """A run has a name and a phase; outputs are addressable by position and by name (o0, o1...)."""
        run = flyte.with_runcontext(mode=runtime_name).run(two_outputs, x=2)
        run.wait()
        assert run.name and run.phase == "SUCCEEDED" and run.error is None
        out = run.outputs()
        assert out[0] == 4 and out.o0 == 4 and out.o1 == "x=2"
        assert out.named_outputs == {"o0": 4, "o1": "x=2"}

    def test_failure_policy(self, runtime_name: str) -> None:
        """A failed run raises its error: from flyte.run when the run has already ended (in process),
        else from wait()/outputs()."""
        try:
            run = flyte.with_runcontext(mode=runtime_name).run(fails, x=5)
        except Exception as e:
            assert "bad value 5" in str(e)
            return
        assert not run.phase.terminal, "a run that already failed must raise from flyte.run"
        with pytest.raises(Exception, match="bad value 5"):
            run.wait()
        assert run.phase == "FAILED" and "bad value 5" in str(run.error)
        with pytest.raises(Exception, match="bad value 5"):
            run.outputs()

    def test_bad_input_is_an_error_naming_the_argument(self, runtime_name: str) -> None:
        with pytest.raises(Exception, match="'x'"):
            self.run(runtime_name, add, x="seven")
