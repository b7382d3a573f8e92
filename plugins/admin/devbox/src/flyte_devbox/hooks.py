"""Entry point of flyte-devbox. Thin on purpose: the server loads only when a devbox command runs."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_cli_commands(cli: Any) -> None:
    # flyte_devbox.cli is imported only when `flyte devbox ...` runs (or its help is shown), not on every `flyte` call.
    from flyte.cli.lazy import LazyCommand

    cli.add_command(LazyCommand("devbox", "flyte_devbox.cli:devbox",
                                help="A Flyte 2 control plane on this machine (gRPC and Connect on one port)."))
