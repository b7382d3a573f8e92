"""``flyte deploy FILE|DIR [--version V] [--dry-run] [--image NAME=URI]``: register tasks on the control plane.

Every task of every ``TaskEnvironment`` found in FILE (or in the ``.py`` files under DIR), and of
the environments they ``depends_on``, goes to ``TaskService.DeployTask`` through the runtime that
talks to the control plane (``flyte-remote``). Run one with ``flyte run deployed-task ENV.TASK``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "build", "dist"}


def python_files(path: Path) -> list[Path]:
    """FILE itself, or the ``.py`` files under DIR (hidden folders, virtualenvs and caches left out), sorted."""
    if path.is_file():
        return [path]
    out: list[Path] = []
    stack = [path]
    while stack:
        folder = stack.pop()
        for p in folder.iterdir():
            if p.is_dir():
                if p.name.startswith(".") or p.name in _SKIP_DIRS or (p / "pyvenv.cfg").exists():
                    continue
                stack.append(p)
            elif p.suffix == ".py" and not p.name.startswith("."):
                out.append(p)
    return sorted(out)


def remote_runtime_hook(name: str) -> Any:
    """``name`` (cli_deploy, cli_run_deployed) of the installed 'remote' runtime; a one-line error without one."""
    from flyte._run import resolve_runtime
    from flyte.errors import PluginError

    try:
        _, runtime_cls = resolve_runtime("remote")
    except PluginError as e:
        raise click.ClickException(str(e)) from None
    hook = getattr(runtime_cls, name, None)
    if hook is None:
        raise click.ClickException(f"The installed 'remote' runtime ({runtime_cls.__module__}) cannot do this "
                                   f"({name}); upgrade flyte-remote")
    return hook


@click.command("deploy", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", metavar="FILE|DIR", type=click.Path(exists=True, path_type=Path))
@click.option("--version", default=None, help="Version of the deployed tasks (default: a hash of the code bundle).")
@click.option("--dry-run", is_flag=True, help="Build the task specs and show what would be deployed; send nothing.")
@click.option("--image", "images", multiple=True, metavar="NAME=URI",
              help="Use URI as the image of environment NAME (repeat); a bare URI is the default image.")
@click.option("-p", "--project", default=None, help="Project to deploy to (default: task.project of the config).")
@click.option("-d", "--domain", default=None, help="Domain to deploy to (default: task.domain of the config).")
@click.pass_context
def deploy(ctx: click.Context, path: Path, version: str | None, dry_run: bool, images: tuple[str, ...],
           project: str | None, domain: str | None) -> None:
    """Deploy every task of the environments in FILE or DIR (and those they depend on)."""
    from flyte.cli.loader import load_file
    from flyte.cli.run import _init_from_config

    _init_from_config()
    files = python_files(path)
    if not files:
        raise click.ClickException(f"No Python files in {path}")
    verbose = (ctx.find_object(dict) or {}).get("verbose", 0)
    modules = [load_file(str(f), verbose) for f in files]
    hook = remote_runtime_hook("cli_deploy")
    opts = {"version": version, "dry_run": dry_run, "images": images, "project": project, "domain": domain,
            "verbose": verbose}
    sys.exit(hook(modules, str(path), opts))
