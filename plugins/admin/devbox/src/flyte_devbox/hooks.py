"""Entry point of flyte-devbox. Thin on purpose: the server loads only when a devbox command runs."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_cli_commands(cli: Any) -> None:
    from flyte_devbox.cli import devbox

    cli.add_command(devbox)
