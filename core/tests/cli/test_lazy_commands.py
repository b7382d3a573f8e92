"""Plugin CLI commands are imported only when used (review R1-11): `flyte --help` lists them by name and
help without importing their modules; running one, its --help and completion hand over to the real command."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flyte.cli.lazy import LazyCommand

REAL = textwrap.dedent(
    """
    import click

    @click.group("tool")
    def tool():
        "The real tool group."

    @tool.command("hello")
    @click.option("--who", default="world")
    def hello(who):
        "Say hello."
        click.echo(f"hello {who}")
    """
)


@pytest.fixture
def lazy_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> click.Group:
    (tmp_path / "lazy_real_tool.py").write_text(REAL)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_real_tool", raising=False)

    @click.group()
    def root() -> None:
        pass

    root.add_command(LazyCommand("tool", "lazy_real_tool:tool", help="A tool, imported on use."))
    root.add_command(LazyCommand("broken", "no_such_module_here:x", help="Cannot be imported."))
    return root


def test_root_help_does_not_import_the_command(lazy_root: click.Group) -> None:
    result = CliRunner().invoke(lazy_root, ["--help"])
    assert result.exit_code == 0, result.output
    assert "tool" in result.output and "A tool, imported on use." in result.output
    assert "lazy_real_tool" not in sys.modules


def test_running_it_and_its_help_use_the_real_command(lazy_root: click.Group) -> None:
    result = CliRunner().invoke(lazy_root, ["tool", "hello", "--who", "you"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "hello you"
    result = CliRunner().invoke(lazy_root, ["tool", "--help"])
    assert "The real tool group." in result.output and "hello" in result.output
    assert "lazy_real_tool" in sys.modules


def test_an_unimportable_command_is_a_one_line_error(lazy_root: click.Group) -> None:
    result = CliRunner().invoke(lazy_root, ["broken"])
    assert result.exit_code == 1
    assert "'flyte broken' is unavailable" in result.output and "no_such_module_here" in result.output
    assert "Traceback" not in result.output


def test_a_bad_target_is_refused_when_registered() -> None:
    with pytest.raises(ValueError, match="package.module:attribute"):
        LazyCommand("x", "no_colon", help="")


def test_flyte_help_does_not_import_the_devbox_cli() -> None:
    pytest.importorskip("flyte_devbox")
    code = (
        "import sys\nfrom flyte.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('IMPORTED' if 'flyte_devbox.cli' in sys.modules else 'LAZY')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "devbox" in out.stdout  # still listed
    assert out.stdout.strip().splitlines()[-1] == "LAZY", out.stdout[-300:]
