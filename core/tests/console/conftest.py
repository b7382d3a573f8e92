"""Fixtures for the console's tests (server side here, browser tests beside them).

- ``sample_runs``: real local runs made with ``flyte.run`` from ``sample_tasks.py`` in their own runs dir
  (session-scoped, made once): ``.base`` (the runs dir) and ``.names`` (kind -> run name; kinds:
  ``fanout`` (map of 4, group "extras" with nested children, a report), ``failing`` (a child fails with a
  traceback, an error with ``<script>`` in it), ``retried`` (a child succeeds on its 2nd attempt)).
- ``console_server``: ``flyte console``'s server over those runs on a free port: ``.url``, ``.base``, ``.names``.
- ``make_console``: ``make_console(base)`` serves another runs dir for the test (stopped after it); ``.url``.
- ``run_sample``: ``run_sample(base, task, name=None, **inputs)`` makes one more run of a task of sample_tasks.py
  into ``base`` and returns its name (failed runs too).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.util
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SAMPLE_TASKS = Path(__file__).with_name("sample_tasks.py")


def sample_module() -> ModuleType:
    name = "console_sample_tasks"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SAMPLE_TASKS)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def run_sample(base: Path, task: str, name: str | None = None, **inputs: Any) -> str:
    """Run ``task`` of sample_tasks.py locally with its record in ``base``; the run's name (failures too)."""
    import asyncio

    import flyte

    t = getattr(sample_module(), task)

    def go() -> str:
        runner = flyte.with_runcontext(mode="local", name=name, run_base_dir=str(base))
        return asyncio.run(runner.submit(t, **inputs)).name

    # on a thread of its own: a test may hold a running event loop here (Playwright's sync API does)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(go).result()


@dataclass
class SampleRuns:
    base: Path
    names: dict[str, str] = field(default_factory=dict)


@dataclass
class Console:
    url: str
    base: Path
    names: dict[str, str] = field(default_factory=dict)


def make_sample_runs(base: Path) -> SampleRuns:
    runs = SampleRuns(base)
    runs.names["fanout"] = run_sample(base, "fanout", name="fanout-sample", n=4)
    runs.names["failing"] = run_sample(base, "failing", name="failing-sample")
    runs.names["retried"] = run_sample(base, "retried", name="retried-sample", key="fixture")
    return runs


@pytest.fixture(name="run_sample")
def run_sample_fixture() -> Callable[..., str]:
    return run_sample


@pytest.fixture(scope="session")
def sample_runs(tmp_path_factory: pytest.TempPathFactory) -> SampleRuns:
    return make_sample_runs(tmp_path_factory.mktemp("console-runs"))


@contextlib.contextmanager
def serve_console(base: Path) -> Iterator[Any]:
    from flyte.console.api import ConsoleApp
    from flyte.console.local import LocalRunStore
    from flyte.console.server import serving

    with serving(ConsoleApp(LocalRunStore(base)), "127.0.0.1", 0, announce_in=base) as server:
        yield server


@pytest.fixture(scope="session")
def console_server(sample_runs: SampleRuns) -> Iterator[Console]:
    with serve_console(sample_runs.base) as server:
        yield Console(server.url, sample_runs.base, dict(sample_runs.names))


@pytest.fixture
def make_console() -> Iterator[Callable[[Path], Console]]:
    with contextlib.ExitStack() as stack:

        def make(base: Path) -> Console:
            server = stack.enter_context(serve_console(base))
            return Console(server.url, base)

        yield make
