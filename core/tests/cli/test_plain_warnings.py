"""flyte run shows flyte's own warnings as one plain line, not Python's `file:line: Category` format."""

import os
import subprocess
import sys
from pathlib import Path

PROGRAM = '''
import asyncio, os, flyte

a = flyte.TaskEnvironment(name="ea", env_vars={"K": "A"})
b = flyte.TaskEnvironment(name="eb", env_vars={"K": "B"})
top = flyte.TaskEnvironment(name="top", depends_on=[a, b])


class Opaque:
    def __init__(self, v):
        self.v = v


@a.task
async def ta() -> str:
    await asyncio.sleep(0.2)
    return os.environ["K"]


@b.task
async def tb() -> str:
    await asyncio.sleep(0.1)
    return os.environ["K"]


@a.task
async def make() -> Opaque:
    return Opaque(1)


@top.task
async def main() -> str:
    x, y = await asyncio.gather(ta(), tb())
    return x + y + str((await make()).v)
'''


def test_flyte_warnings_are_plain_lines(tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(PROGRAM)
    env = {**os.environ, "FLYTE_HOME": str(tmp_path / "home"), "FLYTE_CONFIG": ""}
    env.pop("FLYTE_TYPES_PICKLE", None)
    p = subprocess.run([sys.executable, "-m", "flyte.cli.main", "run", "--no-progress", "prog.py", "main"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "o0 = 'AB1'" in p.stdout
    lines = p.stderr.splitlines()
    assert any(ln.startswith("Warning: Environments 'ea' and 'eb' both set K") for ln in lines), p.stderr
    assert any(ln.startswith("Warning: Type prog.Opaque has no transformer") for ln in lines), p.stderr
    assert "Warning:" not in p.stderr.replace("Warning: ", ""), p.stderr  # no `file:line: XWarning:` form
    assert "_run_env.py" not in p.stderr and "<flyte types>" not in p.stderr, p.stderr
