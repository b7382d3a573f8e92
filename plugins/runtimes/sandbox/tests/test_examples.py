"""The repository's examples give the same outputs under ``--runtime local`` and ``--runtime sandbox``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
FLYTE = [sys.executable, "-m", "flyte.cli.main"] if not (Path(sys.executable).parent / "flyte").exists() else [
    str(Path(sys.executable).parent / "flyte")]


def flyte_run(runtime: str, example: str, task: str, *args: str, home: Path) -> list[str]:
    env = {**os.environ, "FLYTE_HOME": str(home)}
    env.pop("FLYTE_CONFIG", None)
    proc = subprocess.run([*FLYTE, "run", "--runtime", runtime, "--no-progress", str(ROOT / "examples" / example),
                           task, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, f"{runtime} {example}: {proc.stdout}\n{proc.stderr}"
    assert "succeeded" in proc.stdout
    return [ln.strip() for ln in proc.stdout.splitlines() if ln.startswith("  o")]


def flyte_refused(example: str, task: str, *args: str, home: Path) -> str:
    env = {**os.environ, "FLYTE_HOME": str(home)}
    env.pop("FLYTE_CONFIG", None)
    proc = subprocess.run([*FLYTE, "run", "--runtime", "sandbox", "--no-progress", str(ROOT / "examples" / example),
                           task, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode != 0, f"{example} ran under the sandbox: {proc.stdout}"
    runs = home / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "refused after something ran"
    return proc.stdout + proc.stderr


# Every example under examples/ is either here (same outputs) or in REFUSED (a clear refusal before it runs).
SAME = [
    ("hello.py", "main", ("--name", "sandbox", "--n", "5")),
    ("fanout_map.py", "main", ("--n", "200")),
    ("typed_io.py", "main", ()),
    ("typed_io.py", "main", ("--cfg", '{"name": "exp", "lr": 0.1, "epochs": 3}')),
]
def line_in(example: str, text: str) -> int:
    """The first line of ``examples/<example>`` that contains ``text`` (the examples change; the refusals don't)."""
    lines = (ROOT / "examples" / example).read_text().splitlines()
    return next(i for i, ln in enumerate(lines, 1) if text in ln)


REFUSED = [
    # flaky() asks flyte.ctx() for its attempt number (and keeps a count in a module-level dict).
    ("retries_cache.py", "main", (), "Task 'resilience.flaky' cannot run in the sandbox "
                                     f"(retries_cache.py:{line_in('retries_cache.py', '_attempts[key] = ')}): "
                                     "flyte.ctx is not available inside a sandboxed body"),
    ("files_dirs.py", "main", (), "Task 'files.count_lines' cannot run in the sandbox "
                                  f"(files_dirs.py:{line_in('files_dirs.py', 'async def count_lines') + 1}): "
                                  "'async with' is not supported in the sandbox"),
    ("files_dirs.py", "count_dir", ("--d", "examples"), "cannot run in the sandbox (files_dirs.py:"),
]


def test_every_example_is_covered():
    covered = {e for e, *_ in SAME} | {e for e, *_ in REFUSED} | {"sandbox.py"}
    assert covered == {p.name for p in (ROOT / "examples").glob("*.py")}


@pytest.mark.parametrize("example, task, args", SAME)
def test_same_outputs_under_both_runtimes(tmp_path, example, task, args):
    local = flyte_run("local", example, task, *args, home=tmp_path / "local")
    sandbox = flyte_run("sandbox", example, task, *args, home=tmp_path / "sandbox")
    assert local, "no outputs printed"
    assert sandbox == local


def test_sandbox_example(tmp_path):
    """examples/sandbox.py: limits hold and a denied operation is reported, the workflow still finishes."""
    out = flyte_run("sandbox", "sandbox.py", "main", home=tmp_path)
    text = "\n".join(out)
    assert "exceeded the sandbox memory limit of 16 MB" in text
    assert "no access to '/etc/passwd'" in text
    assert "'HOME' is not granted" in text


@pytest.mark.parametrize("example, task, args, message", REFUSED)
def test_refused_examples_say_why_before_running(tmp_path, example, task, args, message):
    out = flyte_refused(example, task, *args, home=tmp_path)
    assert message in out
    assert "Traceback" not in out
