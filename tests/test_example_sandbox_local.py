"""examples/sandbox.py is ordinary Flyte code: it also runs on the local runtime (sync tasks awaited with .aio).

Calling a sync task from an async one without ``.aio`` is refused by the local runtime and the official SDK, so
an example that only works in the sandbox would teach code that fails everywhere else.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sandbox_example_runs_on_the_local_runtime(tmp_path: Path) -> None:
    env = {**os.environ, "FLYTE_HOME": str(tmp_path), "FLYTE_CONFIG": ""}
    p = subprocess.run([sys.executable, "-m", "flyte.cli.main", "run", "--runtime", "local", "--no-progress",
                        "examples/sandbox.py", "main"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "word_count: 4" in p.stdout
    assert "hungry: 100" in p.stdout  # no memory limit outside the sandbox
