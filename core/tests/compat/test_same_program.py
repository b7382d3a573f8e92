"""A program written for the official SDK (reports, durable helpers, logger, ctx, Timeout, TypedDict,
Literal of Enum members, File.open) prints the same last line on both SDKs, unmodified."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROGRAM = Path(__file__).resolve().parent / "programs" / "official_style.py"
EXPECTED = "1:RED:a:False:True:2:True:False:None:True 2:BLUE:b:True:True:2:True:False:None:True"


def _run(python: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "PYTHONPATH"))}
    env.update(HOME=str(home), FLYTE_DISABLE_PLUGINS="gcs,azure,s3,docker,podman,sandbox,remote,example")
    return subprocess.run([python, str(PROGRAM)], capture_output=True, text=True, env=env, cwd=home, timeout=300)


def test_runs_here(tmp_path: Path) -> None:
    p = _run(sys.executable, tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == EXPECTED
    reports = sorted((tmp_path / ".flyte" / "runs").glob("*/reports/*.html"))
    assert [r.name for r in reports] == ["a1.html", "a2.html"]
    assert "step 1" in reports[0].read_text() and "more" in reports[0].read_text()
    assert "][a1] INFO step 1" in p.stderr


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("FLYTE_OFFICIAL_PYTHON"), reason="FLYTE_OFFICIAL_PYTHON not set")
def test_same_output_on_the_official_sdk(tmp_path: Path) -> None:
    p = _run(os.environ["FLYTE_OFFICIAL_PYTHON"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == EXPECTED
