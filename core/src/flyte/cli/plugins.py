"""``flyte plugins``: what is installed and what each plugin registers."""

from __future__ import annotations

import json
from typing import Any

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def plugins(output: str) -> None:
    """List every loaded plugin: name, distribution, version and what it registers."""
    from flyte.cli.main import RootGroup, cli
    from flyte.plugins.manager import get_plugin_manager

    pm = get_plugin_manager()
    infos = pm.describe()
    # CLI commands are added to the root group by the flyte_cli_commands hook: ask it who added what.
    assert isinstance(cli, RootGroup)
    cli._load_plugin_commands()
    by_name = {i.name: i for i in infos}
    for command, owner in sorted(cli.command_owners.items()):
        if owner in by_name:
            by_name[owner].registers.setdefault("cli command", []).append(command)
    rows: list[dict[str, Any]] = [
        {"name": i.name, "distribution": i.distribution, "version": i.version, "registers": i.registers}
        for i in infos
    ]
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"flyte plugins ({len(rows)})", title_justify="left")
    for col in ("plugin", "distribution", "version", "registers"):
        table.add_column(col, overflow="fold")
    for r in rows:
        regs = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in sorted(r["registers"].items())) or "-"
        table.add_row(r["name"], r["distribution"], r["version"], regs)
    Console().print(table)
