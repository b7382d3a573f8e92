"""``flyte run deployed-task ENV.TASK[:VERSION] --input value``: run a task deployed with ``flyte deploy``.

Without a task name it lists the deployed tasks of the project/domain. The task's inputs become
options from its deployed interface, as for a task in a file; the run is shown like any remote run.
"""

from __future__ import annotations

import sys
from typing import Any

import click

COMMAND = "deployed-task"


def _target_opts(ctx: click.Context) -> dict[str, Any]:
    return ctx.find_object(dict) or {}


class DeployedTaskCommand(click.Command):
    def __init__(self, task: Any) -> None:
        from flyte.cli.params import options_for

        self.task = task
        super().__init__(
            name=f"{task.name}:{task.version}",
            params=list[click.Parameter](options_for(task.interface)),
            callback=self._invoke,
            help=f"Run the deployed task {task.name} (version {task.version}).",
            context_settings={"help_option_names": ["-h", "--help"]},
        )

    def _invoke(self, **kwargs: Any) -> None:
        from flyte.cli.deploy import remote_runtime_hook
        from flyte.cli.params import inputs_from_options

        ctx = click.get_current_context()
        inputs = inputs_from_options(self.task.interface, ctx, kwargs)
        sys.exit(remote_runtime_hook("cli_run_deployed")(self.task, inputs, _target_opts(ctx)))


class DeployedTaskGroup(click.Group):
    """``flyte run deployed-task``: one sub-command per deployed task, fetched when named."""

    def __init__(self) -> None:
        super().__init__(name=COMMAND, help="Run a task deployed with `flyte deploy` (lists them without a name).",
                         invoke_without_command=True, callback=self._list)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("flyte run deployed-task", "[ENV.TASK[:VERSION] [--INPUT VALUE ...]]")

    def _list(self) -> None:
        ctx = click.get_current_context()
        if ctx.invoked_subcommand is not None:
            return
        from flyte.cli.run import _init_from_config
        from flyte.remote.task import Task

        _init_from_config()
        opts = _target_opts(ctx)
        try:
            tasks = Task.listall(project=opts.get("project"), domain=opts.get("domain"))
        except Exception as e:  # AdminError, no endpoint: one line
            raise click.ClickException(str(e)) from None
        if not tasks:
            click.echo("No deployed tasks; `flyte deploy FILE` deploys the tasks of a file.")
            return
        width = max(len(t.name) for t in tasks)
        click.echo(f"{'TASK':<{width}}  {'LATEST VERSION':<22}  ENVIRONMENT")
        for t in tasks:
            click.echo(f"{t.name:<{width}}  {t.version:<22}  {t.environment}")
        click.echo(f"\nRun one: flyte run deployed-task {tasks[0].name} --help")

    def list_commands(self, ctx: click.Context) -> list[str]:
        return []

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from flyte.cli.run import _init_from_config
        from flyte.remote.task import Task

        name, _, version = cmd_name.partition(":")
        _init_from_config()
        opts = _target_opts(ctx)
        try:
            task = Task.get(name, version or None, project=opts.get("project"), domain=opts.get("domain"))
        except Exception as e:  # not deployed, no endpoint, control plane down: one line
            raise click.ClickException(str(e)) from None
        return DeployedTaskCommand(task)
