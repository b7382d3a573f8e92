"""Thin hook module: everything is imported inside the hook bodies."""

from __future__ import annotations

from typing import Any

from flyte.plugins import hookimpl


@hookimpl
def flyte_storage_backends() -> list[type[Any]]:
    from flyte_example_plugin.kinds import MemoryStorage

    return [MemoryStorage]


@hookimpl
def flyte_image_builders() -> list[type[Any]]:
    from flyte_example_plugin.kinds import ManifestBuilder

    return [ManifestBuilder]


@hookimpl
def flyte_runtimes() -> list[type[Any]]:
    from flyte_example_plugin.kinds import InlineRuntime

    return [InlineRuntime]


@hookimpl
def flyte_admin_transports() -> list[type[Any]]:
    from flyte_example_plugin.kinds import ExampleTransport

    return [ExampleTransport]


@hookimpl
def flyte_type_transformers() -> list[Any]:
    from flyte_example_plugin.uuid_transformer import UUIDTransformer

    return [UUIDTransformer()]


@hookimpl
def flyte_cli_commands(cli: Any) -> None:
    import click

    @click.command("example-hello")
    @click.argument("name", default="world")
    def example_hello(name: str) -> None:
        """Say hello from the example plugin."""
        click.echo(f"hello {name} from flyte-example-plugin")

    cli.add_command(example_hello)
