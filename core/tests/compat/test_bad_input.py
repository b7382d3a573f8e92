"""A program using official SDK API that flyte-core lacks fails before any task runs, with one line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import flyte
import pytest
from flyte._compat import UNSUPPORTED, UNSUPPORTED_MODULES, _uses, reason
from flyte.errors import NotSupportedError

PROGRAM = """
import flyte
{imports}
env = flyte.TaskEnvironment(name="bad")
ran = []

@env.task
async def main() -> int:
    ran.append(1)
    print("TASK RAN")
{body}
    return 1

if __name__ == "__main__":
    flyte.init()
    print(flyte.run(main).outputs()[0])
"""

CASES = {
    "error_class_in_except": ("", "    try:\n        pass\n    except flyte.errors.OOMError:\n        pass",
                              "flyte.errors.OOMError is part of the official Flyte SDK"),
    "checkpoint_on_ctx": ("", "    cp = flyte.ctx().checkpoint", "flyte.ctx().checkpoint is part of"),
    "from_import_alias": ("from flyte.io import DataFrame as DF", "    DF", "flyte.io.DataFrame is part of"),
    "whole_module": ("import flyte.app", "", "flyte.app is part of the official Flyte SDK"),
    "top_level_name": ("", "    flyte.Checkpoint", "flyte.Checkpoint is part of"),
}


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_")}
    env.update(HOME=str(home), FLYTE_HOME=str(home / ".flyte"), FLYTE_CONFIG="",
               FLYTE_DISABLE_PLUGINS="gcs,azure,s3,docker,podman,sandbox,example")
    return env


def _write(tmp_path: Path, imports: str, body: str) -> Path:
    p = tmp_path / "bad.py"
    p.write_text(PROGRAM.format(imports=imports, body=body))
    return p


@pytest.mark.parametrize("case", sorted(CASES))
def test_script_fails_before_any_task_with_one_line(case: str, tmp_path: Path) -> None:
    imports, body, expected = CASES[case]
    prog = _write(tmp_path, imports, body)
    p = subprocess.run([sys.executable, str(prog)], capture_output=True, text=True, env=_env(tmp_path), timeout=60)
    assert p.returncode == 1
    assert "TASK RAN" not in p.stdout
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr  # one line, no traceback
    assert lines[0].startswith("NotSupportedError: ") and expected in lines[0], lines[0]
    if body:  # found in the task body: the message names the file and line of the use
        marker = next(t.strip() for t in body.splitlines() if "flyte" in t or "DF" in t)
        line = next(i for i, t in enumerate(prog.read_text().splitlines(), 1) if t.strip() == marker)
        assert f"bad.py:{line}: " in lines[0] or case == "from_import_alias"
    assert lines[0].endswith("see docs/compatibility.md for what is supported and the alternatives")
    assert "AttributeError" not in p.stderr
    assert not (tmp_path / ".flyte" / "runs").exists() or not list((tmp_path / ".flyte" / "runs").iterdir())


def test_flyte_run_cli_reports_it_in_one_line(tmp_path: Path) -> None:
    prog = _write(tmp_path, "", "    flyte.durable.time()\n    flyte.ctx().checkpoint")
    p = subprocess.run([sys.executable, "-m", "flyte.cli.main", "run", str(prog), "main"], capture_output=True,
                       text=True, env=_env(tmp_path), timeout=60)
    assert p.returncode != 0
    assert "TASK RAN" not in p.stdout
    assert "flyte.ctx().checkpoint is part of the official Flyte SDK" in p.stderr
    assert "Traceback" not in p.stderr


def test_supported_and_unknown_names_are_not_flagged() -> None:
    src = textwrap.dedent("""
        import flyte
        import flyte.report as rep
        from flyte.io import File
        x = flyte.ctx().action
        flyte.durable.sleep(1)
        rep.log("x")
        flyte.my_own_thing
        flyte.errors.TaskTimedoutError
        """)
    assert _uses(src, "ok.py") == []


def test_reasons_and_module_errors() -> None:
    assert reason("flyte.app.AppEnvironment") == UNSUPPORTED_MODULES["flyte.app"]
    assert reason("flyte.remote.Run") == UNSUPPORTED["flyte.remote"]["Run"]
    assert reason("flyte.remote.spec") is None  # flyte-core's own flyte.remote submodule, not an official name
    assert reason("flyte.remote._LAZY") is None  # private names are never the official API
    assert reason("flyte.io.File") is None
    for module, names in UNSUPPORTED.items():
        for name in names:
            assert reason(f"{module}.{name}")
    with pytest.raises(NotSupportedError, match=r"^flyte.Checkpoint is part of"):
        flyte.Checkpoint  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'not_a_name'"):
        flyte.not_a_name  # noqa: B018
    assert not hasattr(flyte, "not_a_name") and not hasattr(flyte.errors, "__path__")
    import importlib

    with pytest.raises(NotSupportedError, match=r"^flyte.app is part of"):
        importlib.import_module("flyte.app")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("flyte.not_a_module")
