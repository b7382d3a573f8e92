"""Every example of examples/ gives the same outputs through `flyte run` locally and on flyte-devbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[4]
CASES = [
    ("hello.py", "main", ()),
    ("fanout_map.py", "main", ("--n", "5")),
    ("retries_cache.py", "main", ("--key", "remote")),  # each remote attempt is a new process
    ("typed_io.py", "main", ()),
    ("files_dirs.py", "main", ("--lines", "7")),
]


def _outputs(args: list[str], tmp: Path) -> list[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    env = {**os.environ, "FLYTE_CONFIG": "", "HOME": str(tmp),
           "FLYTE_DISABLE_PLUGINS": "gcs,azure,s3,docker,podman,sandbox,example"}
    r = subprocess.run([exe, *args], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return [ln for ln in r.stdout.splitlines() if ln.startswith("  o")]


@pytest.mark.parametrize(("example", "task", "args"), CASES, ids=[c[0] for c in CASES])
def test_example_same_outputs_locally_and_on_the_devbox(devbox: Any, tmp_path: Path, example: str, task: str,
                                                        args: tuple[str, ...]) -> None:
    remote = ["--endpoint", devbox.endpoint, "--insecure", "--project", "flytesnacks", "--domain", "development"]
    local = _outputs(["run", "--local", f"examples/{example}", task, *args], tmp_path)
    there = _outputs([*remote, "run", "--runtime", "remote", f"examples/{example}", task, *args], tmp_path)
    assert local and there == local
