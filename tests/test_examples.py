"""Every example runs as a script and through `flyte run`; with the official SDK too when it is available.

With FLYTE_OFFICIAL_PYTHON (a Python that has `flyte==2.12.1`; `python3 dev.py test` installs one and
sets it) the examples (written to the shared authoring API) must give the same output under the official SDK.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {
    "hello.py": "['hello world #0', 'hello world #1', 'hello world #2']",
    "fanout_map.py": "24502500",
    "retries_cache.py": "DEMO after 3 attempts",
    "typed_io.py": "name='exp' losses=[0.9091, 0.8333, 0.7692] best=0.7692",
    "files_dirs.py": "10",
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["FLYTE_DISABLE_PLUGINS"] = "gcs,azure,s3,docker,podman,sandbox,example"
    return env


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_as_script(name: str) -> None:
    p = subprocess.run([sys.executable, str(ROOT / "examples" / name)], capture_output=True, text=True, env=_env(),
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert EXAMPLES[name] in p.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_with_flyte_run(name: str) -> None:
    p = subprocess.run([sys.executable, "-m", "flyte.cli.main", "run", "--no-progress", f"examples/{name}", "main"],
                       capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "succeeded" in p.stdout


def test_dir_input_from_a_local_folder(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("1\n2\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("3\n")
    p = subprocess.run([sys.executable, "-m", "flyte.cli.main", "run", "examples/files_dirs.py", "count_dir",
                        "--d", str(tmp_path)], capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "o0 = 3" in p.stdout
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.txt", "sub"]  # the input folder is untouched


@pytest.mark.skipif(not os.environ.get("FLYTE_OFFICIAL_PYTHON"),
                    reason="FLYTE_OFFICIAL_PYTHON not set (python3 dev.py test sets it)")
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_unmodified_on_the_official_sdk(name: str, tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path))
    p = subprocess.run([os.environ["FLYTE_OFFICIAL_PYTHON"], str(ROOT / "examples" / name)], capture_output=True,
                       text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert EXAMPLES[name] in p.stdout.strip().splitlines()[-1]
