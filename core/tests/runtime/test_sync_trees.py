"""Sync tasks calling sync tasks: deep and wide trees complete under any concurrency bound.

Each case runs in a subprocess with a time limit, so a regression (a deadlock) fails the test
instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAM = '''
import functools, sys
import flyte

env = flyte.TaskEnvironment(name="sync_trees")

@env.task
def child(x: int) -> int:
    return x + 1

@env.task
def parent(x: int) -> int:
    return child(x) * 2

@env.task
def sfib(n: int) -> int:
    return n if n < 2 else sfib(n - 1) + sfib(n - 2)

@env.task
def wide(n: int) -> int:
    return sum(flyte.map(parent, range(n)))

@env.task
def sub(x: int, y: int) -> int:
    return x - y

@env.task
def mapped_partial(n: int) -> list[int]:
    return list(flyte.map(functools.partial(sub, 100), range(n)))

case, limit = sys.argv[1], int(sys.argv[2]) or None
task, kwargs = {
    "chain": (parent, {"x": 1}),
    "fib": (sfib, {"n": 7}),
    "wide": (wide, {"n": 150}),
    "partial": (mapped_partial, {"n": 3}),
}[case]
print(flyte.with_runcontext(max_action_concurrency=limit).run(task, **kwargs).outputs()[0])
'''


@pytest.mark.parametrize(
    ("case", "limit", "expected"),
    [
        ("chain", 1, "4"),
        ("fib", 3, "13"),
        ("fib", 1, "13"),
        ("wide", 0, str(sum((i + 1) * 2 for i in range(150)))),
        ("wide", 2, str(sum((i + 1) * 2 for i in range(150)))),
        ("partial", 0, "[100, 99, 98]"),
    ],
)
def test_sync_trees_complete(tmp_path: Path, case: str, limit: int, expected: str) -> None:
    script = tmp_path / "trees.py"
    script.write_text(PROGRAM)
    p = subprocess.run([sys.executable, str(script), case, str(limit)], capture_output=True, text=True,
                       env=dict(os.environ), timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == expected
