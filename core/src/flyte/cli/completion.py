"""``flyte completion [bash|zsh|fish] [--install]``: TAB completion for the shell.

The script is click's (``_FLYTE_COMPLETE=bash_source flyte`` prints the same); completing asks
``flyte`` itself, so ``flyte run FILE <TAB>`` lists the file's tasks and ``flyte get run <TAB>``
the local runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

SHELLS = ("bash", "zsh", "fish")
RC_FILES = {"bash": "~/.bashrc", "zsh": "~/.zshrc"}


def script(shell: str) -> str:
    from click.shell_completion import get_completion_class

    from flyte.cli.main import cli

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - the choice above only offers shells click knows
        raise click.UsageError(f"No completion for shell {shell!r}; choose one of {', '.join(SHELLS)}")
    return cls(cli, {}, "flyte", "_FLYTE_COMPLETE").source()


def _default_shell() -> str | None:
    name = Path(os.environ.get("SHELL", "")).name
    return name if name in SHELLS else None


def install_script(shell: str) -> str:
    """Write the script where the shell finds it; returns what was done, for the user."""
    text = script(shell)
    if shell == "fish":
        target = Path("~/.config/fish/completions/flyte.fish").expanduser()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return f"Wrote {target}; new fish sessions complete flyte."
    from flyte.config import flyte_home

    target = flyte_home() / f"completion.{shell}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    rc = Path(RC_FILES[shell]).expanduser()
    line = f"[ -f {target} ] && . {target}  # flyte TAB completion"
    if shell == "zsh":  # click's zsh script registers itself with compdef, which compinit defines
        line = f"(( $+functions[compdef] )) || {{ autoload -Uz compinit && compinit }}; {line}"
    existing = rc.read_text() if rc.is_file() else ""
    if str(target) in existing:
        return f"Updated {target}; {rc} already loads it."
    with rc.open("a") as f:
        f.write(("" if not existing or existing.endswith("\n") else "\n") + line + "\n")
    return f"Wrote {target} and added a line loading it to {rc}; open a new shell (or run: . {target})."


@click.command("completion", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("shell", type=click.Choice(SHELLS), required=False)
@click.option("--install", is_flag=True, help="Save the script and load it from your shell's startup file.")
def completion(shell: str | None, install: bool) -> None:
    """Print (or --install) the TAB-completion script for bash, zsh or fish.

    \b
    bash:  eval "$(flyte completion bash)"     in ~/.bashrc
    zsh:   eval "$(flyte completion zsh)"      in ~/.zshrc
    fish:  flyte completion fish > ~/.config/fish/completions/flyte.fish
    """
    shell = shell or _default_shell()
    if shell is None:
        raise click.UsageError(f"Name the shell: flyte completion {'|'.join(SHELLS)}")
    if install:
        try:
            click.echo(install_script(shell))
        except OSError as e:
            raise click.ClickException(f"Could not install the completion script: {e}") from None
        return
    click.echo(script(shell))


__all__ = ["completion", "install_script", "script"]
