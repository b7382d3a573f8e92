"""``flyte``: the root command group.

Built-in commands are imported only when invoked (``flyte --help`` imports none of
them); plugins add commands through the ``flyte_cli_commands`` hook.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

BUILTIN_COMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (module, attribute, one-line help shown by --help without importing the module)
    "run": ("flyte.cli.run", "run", "Run a task from a Python file (locally by default)."),
    "get": ("flyte.cli.get", "get", "Show runs (local, or on the control plane), projects, tasks, logs, secrets."),
    "create": ("flyte.cli.remote_commands", "create", "Write a config file; create a project or secret."),
    "delete": ("flyte.cli.remote_commands", "delete", "Delete a secret on the control plane."),
    "abort": ("flyte.cli.remote_commands", "abort", "Abort a run on the control plane."),
    "whoami": ("flyte.cli.remote_commands", "whoami", "Show who the control plane thinks you are."),
    "plugins": ("flyte.cli.plugins", "plugins", "List installed plugins and what they register."),
    "build": ("flyte.cli.build", "build", "Build the images of every environment in a file."),
    "deploy": ("flyte.cli.deploy", "deploy", "Deploy the tasks of a file or folder to the control plane."),
    "completion": ("flyte.cli.completion", "completion", "Print or install TAB completion for bash, zsh or fish."),
    "console": ("flyte.cli.console", "console", "Serve the web console for local runs (127.0.0.1 by default)."),
}


class RootGroup(click.Group):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plugin_commands_loaded = False
        self.command_owners: dict[str, str] = {}  # plugin-provided command -> plugin name

    def _load_plugin_commands(self) -> None:
        if self._plugin_commands_loaded:
            return
        self._plugin_commands_loaded = True
        from flyte.plugins.manager import PluginManager, get_plugin_manager

        # A plugin that adds a command someone else owns is skipped with one warning (an error under
        # FLYTE_PLUGINS_STRICT=1): `flyte --help` and `flyte plugins` must keep working to find it.
        objects: dict[str, click.Command] = {}
        for info, _ in get_plugin_manager().call_each("flyte_cli_commands", cli=self):
            for name, command in list(self.commands.items()):
                if name in self.command_owners:
                    if objects[name] is not command:
                        self.commands[name] = objects[name]
                        PluginManager._skip(
                            f"Plugin '{info.name}' ({info.distribution}) adds the CLI command 'flyte {name}', which "
                            f"plugin '{self.command_owners[name]}' already added; its command was skipped."
                        )
                    continue
                if name in BUILTIN_COMMANDS:
                    del self.commands[name]
                    PluginManager._skip(
                        f"Plugin '{info.name}' ({info.distribution}) tried to replace the built-in command "
                        f"'flyte {name}'; its command was skipped."
                    )
                    continue
                self.command_owners[name] = info.name
                objects[name] = command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return sorted(set(BUILTIN_COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in BUILTIN_COMMANDS:
            module, attr, _ = BUILTIN_COMMANDS[cmd_name]
            import importlib

            try:
                command: click.Command = getattr(importlib.import_module(module), attr)
                return command
            except ImportError as e:
                raise click.ClickException(f"'flyte {cmd_name}' is unavailable: {e}") from None
        self._load_plugin_commands()
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Built-ins are described from the table above, so --help imports none of their modules.
        self._load_plugin_commands()
        rows = [(n, BUILTIN_COMMANDS[n][2]) for n in sorted(BUILTIN_COMMANDS)]
        rows += [(n, c.get_short_help_str(60)) for n, c in sorted(self.commands.items()) if n not in BUILTIN_COMMANDS]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _version() -> str:
    from flyte import __version__

    return __version__


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="flyte (flyte-core)")
@click.option("-v", "--verbose", count=True, help="Show tracebacks and flyte's logs (-vv for debug logs).")
@click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Config file (default: ./config.yaml, ./.flyte/config.yaml, ... ~/.flyte/config.yaml).")
@click.option("--endpoint", default=None, help="Control plane host:port (overrides admin.endpoint).")
@click.option("--insecure", is_flag=True, default=None, help="Plaintext connection to the control plane (no TLS).")
@click.option("--org", default=None, help="Organization (overrides task.org).")
@click.option("--project", default=None, help="Project (overrides task.project).")
@click.option("--domain", default=None, help="Domain (overrides task.domain).")
@click.pass_context
def cli(ctx: click.Context, verbose: int, config_file: str | None, endpoint: str | None, insecure: bool | None,
        org: str | None, project: str | None, domain: str | None) -> None:
    """flyte: run Flyte 2 tasks locally, in a sandbox, or on a cluster."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    from flyte.config import set_overrides

    # Global control-plane flags beat FLYTE_* variables and the config file, in this process only.
    set_overrides({"admin.endpoint": endpoint, "admin.insecure": insecure or None, "task.org": org,
                   "task.project": project, "task.domain": domain})
    if verbose:
        import logging

        # Only flyte's own loggers get chatty: libraries such as botocore log request headers
        # (session tokens) at DEBUG, and secrets must never reach the logs.
        logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
        logging.getLogger("flyte").setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    if config_file:
        os.environ["FLYTE_CONFIG"] = config_file
    if sys.stderr.isatty():
        # Transfers that take more than a couple of seconds show a progress bar (storage stays quiet as a library).
        from flyte.storage.progress import enable_cli_progress

        enable_cli_progress()


def _plain_plugin_warnings() -> None:
    """Show flyte's own warnings (plugins, pickled types, per-task environment) as one plain line each.

    Python's format would name the flyte source line that raised them, which means nothing to the user.
    """
    import warnings

    from flyte.errors import EnvironmentIsolationWarning, PickleWarning, PluginWarning

    original = warnings.showwarning
    plain = (PluginWarning, PickleWarning, EnvironmentIsolationWarning)

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        if isinstance(category, type) and issubclass(category, plain):
            sys.stderr.write(f"Warning: {message}\n")
        else:
            original(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    """Console entry point: errors are one line unless -v is given."""
    args = sys.argv[1:] if argv is None else argv
    _plain_plugin_warnings()
    verbose = any(a in ("-v", "-vv", "--verbose") for a in args)
    try:
        rv = cli.main(args=args, prog_name="flyte", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # `flyte run` alone: show its help, not an error
            click.echo(e.format_message(), err=True)
        else:
            click.echo(f"Error: {e.format_message()}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except Exception as e:
        from flyte.errors import FlyteError

        if verbose:
            import traceback

            traceback.print_exc()
        if isinstance(e, FlyteError | FileNotFoundError | ValueError | TypeError | LookupError):
            click.echo(f"Error: {e}", err=True)
        else:
            click.echo(f"Error: {type(e).__name__}: {e}" + ("" if verbose else "  (run with -v for a traceback)"),
                       err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
