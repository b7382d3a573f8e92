"""TAB completion, asked the way the shells ask it: environment variables and a real bash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_cli_listings import make_run

FLYTE = [sys.executable, "-m", "flyte.cli.main"]

TASKS = '''
import flyte
print("a module that prints when imported")
env = flyte.TaskEnvironment(name="comp")

@env.task
async def main(n: int, mode: str = "x") -> int:
    """Add things up."""
    return n

@env.task
def other(count: int) -> int:
    return count
'''


def complete(line: str, env: dict[str, str] | None = None, shell: str = "bash") -> tuple[list[str], str]:
    """What ``flyte`` answers when the shell completes the end of ``line`` (bash's protocol)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    if shell == "fish":  # fish sends the words before the cursor and the incomplete word itself
        done = line if line.endswith(" ") else line.rsplit(" ", 1)[0] + " "
        comp = {"COMP_WORDS": done, "COMP_CWORD": "" if line.endswith(" ") else words[-1]}
    else:
        comp = {"COMP_WORDS": line, "COMP_CWORD": str(cword)}
    e = dict(os.environ, **comp, _FLYTE_COMPLETE=f"{shell}_complete", **(env or {}))
    p = subprocess.run(FLYTE, capture_output=True, text=True, env=e, timeout=60)
    assert p.returncode == 0, p.stderr
    return [x for x in p.stdout.splitlines() if x], p.stderr


@pytest.fixture
def tasks_file(tmp_path: Path) -> Path:
    f = tmp_path / "wf.py"
    f.write_text(TASKS)
    return f


def test_run_file_tab_lists_its_tasks(tasks_file: Path) -> None:
    out, err = complete(f"flyte run {tasks_file} ")
    assert out == ["plain,main", "plain,other"], (out, err)
    assert err == ""  # the module's print reaches neither the shell nor the terminal
    assert complete(f"flyte run {tasks_file} ot")[0] == ["plain,other"]
    assert complete(f"flyte run {tasks_file} main --")[0] == ["plain,--n", "plain,--mode", "plain,--help"]
    assert complete(f"flyte run --local {tasks_file} other --c")[0] == ["plain,--count"]


def test_run_tab_is_silent_when_nothing_matches(tasks_file: Path, tmp_path: Path) -> None:
    assert complete(f"flyte run {tasks_file} zzz") == ([], "")
    assert complete(f"flyte run {tmp_path / 'missing.py'} ") == ([], "")
    broken = tmp_path / "broken.py"
    broken.write_text("raise SystemExit('no')\n")
    assert complete(f"flyte run {broken} ") == ([], "")
    assert complete(f"flyte run {tasks_file} nosuch --") == ([], "")


def test_run_tab_completes_files(tmp_path: Path) -> None:
    assert complete(f"flyte run {tmp_path}/w")[0] == [f"file,{tmp_path}/w"]  # the shell lists the paths


def test_zsh_and_fish_get_task_help(tasks_file: Path) -> None:
    out, _ = complete(f"flyte run {tasks_file} ", shell="zsh")
    assert out[:3] == ["plain", "main", "Add things up."]
    out, _ = complete(f"flyte run {tasks_file} ", shell="fish")
    assert out[0] == "plain,main\tAdd things up."


def test_get_run_tab_lists_run_names(tmp_path: Path) -> None:
    base = tmp_path / "runs"
    for name in ("nightly-1", "nightly-2", "adhoc"):
        make_run(base, name)
    env = {"FLYTE_LOCAL_RUNS_DIR": str(base)}
    out, _ = complete("flyte get run night", env)
    assert sorted(out) == ["plain,nightly-1", "plain,nightly-2"]
    assert complete("flyte get run zzz", env) == ([], "")
    assert sorted(complete(f"flyte get run --run-base-dir {base} ")[0]) == [
        "plain,adhoc", "plain,nightly-1", "plain,nightly-2"]
    assert complete("flyte get run ", {"FLYTE_LOCAL_RUNS_DIR": str(tmp_path / "none")}) == ([], "")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_real_bash_completes_with_the_printed_script(tasks_file: Path, tmp_path: Path) -> None:
    # a `flyte` on PATH, as installed, and the script `flyte completion bash` prints
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "flyte"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} -m flyte.cli.main \"$@\"\n")
    exe.chmod(0o755)
    script = subprocess.run([str(exe), "completion", "bash"], capture_output=True, text=True, check=True).stdout
    assert "_FLYTE_COMPLETE=bash_complete" in script
    probe = (f'{script}\nCOMP_WORDS=(flyte run {tasks_file} ""); COMP_CWORD=3; _flyte_completion flyte; '
             'printf "%s\\n" "${COMPREPLY[@]}"')
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    p = subprocess.run(["bash", "--norc", "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert p.stdout.split() == ["main", "other"], (p.stdout, p.stderr)


def test_completion_install_is_idempotent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), FLYTE_HOME=str(home / ".flyte"))
    for _ in range(2):
        p = subprocess.run([*FLYTE, "completion", "zsh", "--install"], capture_output=True, text=True, env=env)
        assert p.returncode == 0, p.stderr
    script = home / ".flyte" / "completion.zsh"
    assert "_FLYTE_COMPLETE=zsh_complete" in script.read_text()
    assert (home / ".zshrc").read_text().count(str(script)) == 2  # one line: `[ -f X ] && . X`
    p = subprocess.run([*FLYTE, "completion", "fish", "--install"], capture_output=True, text=True, env=env)
    assert (home / ".config" / "fish" / "completions" / "flyte.fish").is_file(), p.stderr
    p = subprocess.run([*FLYTE, "completion"], capture_output=True, text=True, env=dict(env, SHELL="/bin/tcsh"))
    assert p.returncode == 2 and "Name the shell" in p.stderr
