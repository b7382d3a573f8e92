"""A plugin's CLI command that is imported only when used.

``flyte --help`` lists every command by name and one line of help; a plugin that adds a command
(the ``flyte_cli_commands`` hook) should not make every ``flyte`` call import its CLI module.
Register a :class:`LazyCommand` instead of the command itself::

    from flyte.cli.lazy import LazyCommand

    @hookimpl
    def flyte_cli_commands(cli):
        cli.add_command(LazyCommand("devbox", "flyte_devbox.cli:devbox", help="A control plane on this machine."))

The module is imported when the command runs, when its own help is shown, or when TAB
completion looks inside it; ``flyte --help`` and ``flyte plugins`` use only the name and help given here.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

__all__ = ["LazyCommand"]


class LazyCommand(click.Command):
    """A command named ``name`` whose real click command is ``target`` (``"package.module:attribute"``).

    ``help`` is the one line ``flyte --help`` shows. Running it, ``flyte NAME --help`` and completion
    import the target and hand over to it; an import error is a one-line error naming the command.
    """

    def __init__(self, name: str, target: str, *, help: str, hidden: bool = False) -> None:
        module, sep, attribute = target.partition(":")
        if not sep or not module or not attribute:
            raise ValueError(f"LazyCommand {name!r}: target must be 'package.module:attribute', got {target!r}")
        super().__init__(name, help=help, short_help=help, hidden=hidden, add_help_option=False)
        self._target = (module, attribute)
        self._real: click.Command | None = None

    def load(self) -> click.Command:
        """Import and return the real command (once)."""
        if self._real is None:
            module, attribute = self._target
            try:
                command = getattr(importlib.import_module(module), attribute)
            except (ImportError, AttributeError) as e:
                raise click.ClickException(f"'flyte {self.name}' is unavailable: {e}") from None
            if not isinstance(command, click.Command):
                raise click.ClickException(
                    f"'flyte {self.name}' is unavailable: {module}:{attribute} is not a click command"
                )
            self._real = command
        return self._real

    # Every way click enters a sub-command goes through make_context (invocation, its --help,
    # shell completion): the context is the real command's, so click never sees this stand-in again.
    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        return self.load().make_context(info_name, args, parent=parent, **extra)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        return self.load().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        return self.load().invoke(ctx)

    def get_short_help_str(self, limit: int = 45) -> str:
        return super().get_short_help_str(limit)
