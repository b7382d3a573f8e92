"""The flyte CLI, driven as a user would: real processes, real files, real run records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FLYTE = [sys.executable, "-m", "flyte.cli.main"]

WORKFLOW = '''
import asyncio
from dataclasses import dataclass
from enum import Enum
import flyte

env = flyte.TaskEnvironment(name="cli")

class Color(Enum):
    RED = "red"
    BLUE = "blue"

@dataclass
class Cfg:
    name: str
    k: int = 2

@env.task
async def leaf(i: int) -> int:
    return i * 2

@env.task
async def main(n: int, label: str = "x", color: Color = Color.RED, cfg: Cfg = Cfg("d"),
               weights: list[float] = [1.0], flag: bool = False) -> str:
    vals = await asyncio.gather(*(leaf(i) for i in range(n)))
    return f"{label}:{color.value}:{cfg.name}:{cfg.k}:{sum(vals)}:{sum(weights)}:{flag}"

@env.task
async def boom(x: int) -> int:
    raise RuntimeError(f"exploded on {x}")

@env.task
async def parent(x: int) -> int:
    return await boom(x)
'''


@pytest.fixture
def wf(tmp_path: Path) -> Path:
    p = tmp_path / "wf.py"
    p.write_text(WORKFLOW)
    return p


def flyte(*args: str, home: str | None = None, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["FLYTE_HOME"] = home or os.environ["FLYTE_HOME"]
    env["FLYTE_DISABLE_PLUGINS"] = "gcs,azure,s3,docker,podman,sandbox,example"
    env["COLUMNS"] = "200"
    p = subprocess.run([*FLYTE, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_help_and_version() -> None:
    p = flyte("--help", check=True)
    for cmd in ("run", "get", "plugins", "build", "completion"):
        assert cmd in p.stdout
    assert "0.1.0" in flyte("--version", check=True).stdout


def test_run_with_typed_arguments(wf: Path) -> None:
    p = flyte("run", str(wf), "main", "--n", "4", "--label", "hi", "--color", "blue",
              "--cfg", '{"name": "c", "k": 5}', "--weights", "[0.5, 1.5]", "--flag", check=True)
    assert "hi:blue:c:5:12:2.0:True" in p.stdout
    assert "succeeded" in p.stdout
    p = flyte("run", str(wf), "main", "--n", "1", "--no-flag", check=True)
    assert "x:red:d:2:0:1.0:False" in p.stdout
    # command lines copied from the official CLI: Enum by name, --flag alone, a partial JSON object
    p = flyte("run", str(wf), "main", "--n", "1", "--color", "BLUE", "--cfg", '{"k": 7}', "--flag", check=True)
    assert "x:blue:d:7:0:1.0:True" in p.stdout


def test_task_help_shows_types_and_defaults(wf: Path) -> None:
    p = flyte("run", str(wf), "main", "--help", check=True)
    assert "--n" in p.stdout and "int" in p.stdout
    assert "--cfg" in p.stdout and '{"name":"d","k":2}' in p.stdout
    assert "RED" in p.stdout and "[RED|BLUE]" in p.stdout


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["nope.py", "main"], "File 'nope.py' does not exist"),
        (["{wf}", "nosuch"], "No task 'nosuch' in"),
        (["{wf}", "main"], "Missing option '--n'"),
        (["{wf}", "main", "--n", "three"], "Invalid value for '--n': expected an integer, got 'three'"),
        (["{wf}", "main", "--n", "1", "--cfg", "{bad json"], "is not valid JSON"),
        (["{wf}", "main", "--n", "1", "--color", "green"], "'green' is not one of"),
        (["--env", "NOEQUALS", "{wf}", "main", "--n", "1"], "is not KEY=VALUE"),
        (["--runtime", "warp", "{wf}", "main", "--n", "1"], "Unknown runtime 'warp'"),
    ],
)
def test_bad_input_is_one_line(wf: Path, args: list[str], expect: str) -> None:
    p = flyte("run", *[a.replace("{wf}", str(wf)) for a in args])
    assert p.returncode != 0
    assert expect in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "Traceback" not in p.stderr


def test_failed_run_names_the_task_and_exits_nonzero(wf: Path) -> None:
    p = flyte("run", str(wf), "parent", "--x", "3")
    assert p.returncode == 1
    assert "cli.boom" in p.stderr and "exploded on 3" in p.stderr
    assert "Traceback" not in p.stderr
    p = flyte("-v", "run", str(wf), "parent", "--x", "3")
    assert "Traceback" in p.stderr


def test_get_runs_and_run(wf: Path) -> None:
    flyte("run", "--name", "first", str(wf), "main", "--n", "2", check=True)
    flyte("run", "--name", "second", str(wf), "parent", "--x", "1")
    runs = json.loads(flyte("get", "runs", "-o", "json", check=True).stdout)
    assert [r["name"] for r in runs] == ["second", "first"]
    assert runs[0]["phase"] == "FAILED" and runs[1]["phase"] == "SUCCEEDED"
    table = flyte("get", "runs", check=True).stdout
    assert "first" in table and "SUCCEEDED" in table
    one = json.loads(flyte("get", "run", "first", "-o", "json", check=True).stdout)
    assert one["outputs"] == {"o0": "x:red:d:2:2:1.0:False"}
    assert one["inputs"]["n"] == 2
    assert len(one["actions"]) == 3
    shown = flyte("get", "run", "second", check=True).stdout
    assert "exploded on 1" in shown and "cli.boom" in shown
    missing = flyte("get", "run", "nope")
    assert missing.returncode == 1 and "No local run named 'nope'" in missing.stderr


def test_run_options(wf: Path, tmp_path: Path) -> None:
    base = tmp_path / "records"
    p = flyte("run", "--name", "custom", "--run-base-dir", str(base), "--env", "A=1", str(wf), "main", "--n", "1",
              check=True)
    assert "custom" in p.stdout
    assert (base / "custom" / "run.json").is_file()
    p = flyte("run", "--local", "--runtime", "sandbox", str(wf), "main", "--n", "1")
    assert p.returncode == 2 and "disagree" in p.stderr


def test_plugins_lists_builtin() -> None:
    rows = json.loads(flyte("plugins", "-o", "json", check=True).stdout)
    local = next(r for r in rows if r["name"] == "local")
    assert local["distribution"] == "flyte-core"
    assert local["registers"]["runtime"] == ["local"]
    assert "file" in local["registers"]["storage backend"]


def test_many_actions_summary(wf: Path) -> None:
    p = flyte("run", str(wf), "main", "--n", "300", check=True)
    assert ":89700:" in p.stdout
    assert "(301 succeeded)" in p.stdout


def test_progress_counts_and_renders() -> None:
    from types import SimpleNamespace

    from flyte.cli.progress import RunProgress

    prog = RunProgress("wf.main [local]", enabled=False)
    rec = SimpleNamespace(attempts=1)
    for _ in range(5):
        prog("running", rec)
    for _ in range(3):
        prog("succeeded", rec)
    prog("failed", rec)
    prog("cached", rec)
    text = prog._render().plain
    assert "running 1" in text and "succeeded 3" in text and "cached 1" in text and "failed 1" in text
    assert prog.summary() == "3 succeeded, 1 cached, 1 failed"


def test_config_file_storage_and_nested_sections(wf: Path, tmp_path: Path) -> None:
    from flyte.config import load_config

    cfg = tmp_path / "config.yaml"
    cfg.write_text("storage:\n  s3:\n    endpoint: http://127.0.0.1:9\n  endpoint: http://flat\ntask:\n  project: p\n")
    assert load_config(cfg).section("storage") == {"s3": {"endpoint": "http://127.0.0.1:9"}, "endpoint": "http://flat"}
    # the CLI reads the config file like flyte.init_from_config(): a local run still works
    p = flyte("-c", str(cfg), "run", str(wf), "main", "--n", "1", check=True)
    assert "succeeded" in p.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("storage: [oops\n")
    p = flyte("-c", str(bad), "run", str(wf), "main", "--n", "1")
    assert p.returncode == 1 and "not valid YAML" in p.stderr
