"""Helpers of the reliability suite: `flyte run` in a subprocess, and waiting for files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def flyte_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "flyte.cli.main", *args]


def start_flyte(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.Popen(flyte_cmd(*args), cwd=cwd, env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_flyte(*args: str, cwd: Path, env: dict[str, str] | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(flyte_cmd(*args), cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(name="start_flyte")
def _start_flyte() -> Callable[..., subprocess.Popen[str]]:
    """``start_flyte("run", "prog.py", "main", cwd=tmp_path)``: a `flyte` process, stdout/stderr piped."""
    return start_flyte


@pytest.fixture(name="run_flyte")
def _run_flyte() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_flyte


@pytest.fixture(name="wait_for")
def _wait_for() -> Callable[..., None]:
    return wait_for


@pytest.fixture
def runs_base() -> Path:
    from flyte._builtin.local.records import runs_dir

    return runs_dir()
