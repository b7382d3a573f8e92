"""Tasks whose local runs the console tests look at (also handy by hand:
``FLYTE_LOCAL_RUNS_DIR=/tmp/runs flyte run core/tests/console/sample_tasks.py fanout``)."""

from __future__ import annotations

import time

import flyte
import flyte.report

env = flyte.TaskEnvironment("console_samples")


@env.task
def square(x: int) -> int:
    return x * x


@env.task
def leaf(x: int) -> int:
    return x + 1


@env.task
def middle(x: int) -> int:
    return leaf(x) + leaf(x + 1)


@env.task
def explode(message: str) -> int:
    raise ValueError(message)


@env.task(report=True)
def reporting(title: str) -> str:
    flyte.report.log(f"<h1 id='r'>{title}</h1><script>document.title = 'report ran'</script>")
    return "reported"


@env.task
def fanout(n: int = 4) -> list[int]:
    """A map, a group, nested children (middle -> leaf) and a report."""
    squares = list(flyte.map(square, range(n)))
    with flyte.group("extras"):
        nested = middle(10)
    reporting("Report <of> fanout & co")
    return [*squares, nested]


@env.task
def failing(message: str = "it broke <script>alert('x')</script>") -> int:
    """A child fails: the run fails, the child keeps its traceback."""
    return explode(message) + 1


_tries: dict[str, int] = {}


@env.task(retries=2)
def flaky(key: str) -> str:
    _tries[key] = _tries.get(key, 0) + 1
    if _tries[key] < 2:
        raise RuntimeError(f"attempt {_tries[key]} fails")
    return f"ok after {_tries[key]}"


@env.task
def retried(key: str = "k") -> str:
    return flaky(key)


@env.task
def slow(seconds: float = 30.0, children: int = 3) -> int:
    """Runs for a while (for live updates): children that sleep one after another."""
    total = 0
    for i in range(children):
        total += nap(seconds / max(children, 1), i)
    return total


@env.task
def nap(seconds: float, i: int) -> int:
    time.sleep(seconds)
    return i
