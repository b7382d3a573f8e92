"""``flyte run FILE TASK --arg value``: run a task on the local runtime or any registered one."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from flyte.cli.loader import find_task, find_tasks, load_file
from flyte.cli.params import inputs_from_options, options_for


def _parse_env(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--env")
        k, v = item.split("=", 1)
        if not k:
            raise click.BadParameter(f"{item!r} has an empty KEY", param_hint="--env")
        out[k] = v
    return out


def _parse_images(values: tuple[str, ...]) -> dict[str, str]:
    """``--image NAME=URI`` (an environment's image) or ``--image URI`` (the default image)."""
    out = {}
    for item in values:
        name, sep, uri = item.partition("=")
        if not sep:
            name, uri = "default", item
        if not name or not uri:
            raise click.BadParameter(f"{item!r} is not NAME=URI or URI", param_hint="--image")
        out[name] = uri
    return out


class TaskCommand(click.Command):
    def __init__(self, file: str, attr: str, task: Any) -> None:
        self.file = file
        self.task = task
        doc = (task.func.__doc__ or "").strip()
        super().__init__(
            name=attr,
            params=list[click.Parameter](options_for(task.interface)),
            callback=self._invoke,
            help=doc or f"Run task {task.name}.",
            context_settings={"help_option_names": ["-h", "--help"]},
        )

    def _invoke(self, **kwargs: Any) -> int:
        ctx = click.get_current_context()
        opts = ctx.find_object(dict) or {}
        return execute(self.task, inputs_from_options(self.task.interface, ctx, kwargs), opts)


class FileGroup(click.Group):
    """The tasks of one file, as sub-commands."""

    def __init__(self, file: str) -> None:
        super().__init__(name=file, help=f"Tasks in {file}.")
        self.file = file
        self._module: Any = None

    def _load(self, ctx: click.Context) -> Any:
        if self._module is None:
            if ctx.resilient_parsing:
                return _load_quietly(self.file)
            verbose = (ctx.find_object(dict) or {}).get("verbose", 0)
            self._module = load_file(self.file, verbose)
        return self._module

    def list_commands(self, ctx: click.Context) -> list[str]:
        module = self._load(ctx)
        return sorted(find_tasks(module)) if module is not None else []

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = self._load(ctx)
        if module is None:
            return None
        if ctx.resilient_parsing:  # completing: an unknown task completes nothing, silently
            task = find_tasks(module).get(cmd_name)
            return TaskCommand(self.file, cmd_name, task) if task is not None else None
        task = find_task(module, self.file, cmd_name)
        return TaskCommand(self.file, cmd_name, task)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:
            tasks = ", ".join(self.list_commands(ctx)) or "none"
            raise click.UsageError(f"Name a task to run: flyte run {self.file} TASK. Tasks there: {tasks}")
        return super().parse_args(ctx, args)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        module = self._load(ctx)
        if module is None:
            return []
        tasks = find_tasks(module)
        return [CompletionItem(attr, help=_first_line(t.func.__doc__) or t.name)
                for attr, t in sorted(tasks.items()) if attr.startswith(incomplete)]


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n", 1)[0]


def _load_quietly(file: str) -> Any:
    """The module for shell completion: nothing it prints reaches the shell, and a failure completes nothing."""
    import contextlib
    import io

    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return load_file(file)
    except (Exception, SystemExit):
        return None


class RunGroup(click.Group):
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "deployed-task":  # as the official CLI spells it (flyte.cli.deployed)
            from flyte.cli.deployed import DeployedTaskGroup

            return DeployedTaskGroup()
        return FileGroup(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return []

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        if incomplete.startswith("-"):
            return super().shell_complete(ctx, incomplete)
        return [CompletionItem(incomplete, type="file")]  # FILE: the shell completes paths

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("flyte run", "[OPTIONS] FILE TASK [--INPUT VALUE ...]")


@click.group(cls=RunGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--runtime", "runtime", default=None, metavar="NAME",
              help="Runtime to run on: local (default), sandbox, remote, or any a plugin registers.")
@click.option("--local", is_flag=True,
              help="Same as --runtime local (also when the config names an admin.endpoint).")
@click.option("--name", default=None, help="Name of the run (default: generated).")
@click.option("--raw-data-path", default=None, help="Where File/Dir outputs and offloaded data go (path or URL).")
@click.option("--run-base-dir", default=None, help="Where the local run record is kept.")
@click.option("--env", "env", multiple=True, metavar="KEY=VALUE", help="Environment variable for the run (repeat).")
@click.option("--overwrite-cache", is_flag=True, help="Run cached tasks again and replace their cache entries.")
@click.option("--max-concurrency", type=click.IntRange(min=1), default=None,
              help="At most this many actions run at once (local runtime default: 1000).")
@click.option("--no-progress", is_flag=True, help="Do not show the live progress display.")
@click.option("--detach", is_flag=True, help="Remote runs: return once the run is created (it goes on).")
@click.option("--follow", is_flag=True, help="Remote runs: stream the run's logs while waiting for it.")
@click.option("--image", "images", multiple=True, metavar="NAME=URI",
              help="Remote runs: use URI as environment NAME's image (repeat); a bare URI is the default image.")
@click.pass_context
def run(ctx: click.Context, runtime: str | None, local: bool, name: str | None, raw_data_path: str | None,
        run_base_dir: str | None, env: tuple[str, ...], overwrite_cache: bool, max_concurrency: int | None,
        no_progress: bool, detach: bool, follow: bool, images: tuple[str, ...]) -> None:
    """Run a task from FILE: flyte run hello.py main --name world"""
    obj = ctx.ensure_object(dict)
    if local and runtime and runtime != "local":
        raise click.UsageError("--local and --runtime disagree; use one of them")
    obj.update(
        runtime="local" if local else runtime,
        name=name,
        raw_data_path=raw_data_path,
        run_base_dir=run_base_dir,
        env_vars=_parse_env(env),
        overwrite_cache=overwrite_cache,
        max_concurrency=max_concurrency,
        progress=not no_progress,
        detach=detach,
        follow=follow,
        images=_parse_images(images),
    )


MAX_OUTPUT_CHARS = 2000


def _init_from_config() -> None:
    """Like the official CLI: the config file (if any) sets storage, project/domain and the endpoint."""
    from flyte._initialize import get_init_config, init_from_config
    from flyte.config import find_config_file, is_remote_configured

    # An endpoint from `flyte --endpoint`/FLYTE_ADMIN_ENDPOINT/FLYTE_API_KEY also makes remote the default.
    if get_init_config() is None and (find_config_file() is not None or is_remote_configured()):
        init_from_config()


def execute(task: Any, kwargs: dict[str, Any], opts: dict[str, Any]) -> int:
    """Run ``task`` the way ``flyte.with_runcontext(...).run`` does (the same Runner), in one event loop."""
    # Plain click output here: rich costs ~20 ms of start-up and is only loaded for the live display.
    from flyte._builtin.local.stopping import Stopped, run_stoppable
    from flyte._run import Runner, resolve_runtime
    from flyte.cli.progress import RunProgress

    _init_from_config()
    mode, runtime_cls = resolve_runtime(opts.get("runtime"))  # an endpoint without a remote runtime: one line, now
    cli_execute = getattr(runtime_cls, "cli_execute", None)
    if cli_execute is not None:  # a runtime running elsewhere shows its own run (flyte-remote: URL, counts, detach)
        return int(cli_execute(task, kwargs, opts))
    if opts.get("detach") or opts.get("follow") or opts.get("images"):
        raise click.UsageError(f"--detach, --follow and --image are for runs on a control plane, not the '{mode}' "
                               "runtime")
    show_progress = bool(opts.get("progress", True)) and sys.stderr.isatty()
    progress = RunProgress(f"{task.name} [{mode}]", enabled=show_progress)
    runner = Runner(
        mode,
        name=opts.get("name"),
        raw_data_path=opts.get("raw_data_path"),
        run_base_dir=opts.get("run_base_dir"),
        env_vars=opts.get("env_vars") or {},
        overwrite_cache=bool(opts.get("overwrite_cache")),
        max_action_concurrency=opts.get("max_concurrency"),
        on_event=progress,
    )
    started = time.perf_counter()

    async def go() -> tuple[Any, Any, BaseException | None]:
        run = await runner.submit(task, **kwargs)
        try:
            return run, await run.outputs.aio(), None  # waits for a run going elsewhere; raises its error
        except Exception as e:
            return run, None, e

    try:
        run, outputs, error = run_stoppable(go())
    except Stopped as stop:  # Ctrl-C / SIGTERM: the run is recorded as ABORTED; say where, no traceback
        progress.stop()
        for name, url in stop.runs or [("", "")]:
            label = f"Run {name} aborted" if name else "Run aborted"
            click.echo(f"{click.style(label, fg='yellow', bold=True)}: {stop.reason}", err=True)
            if url:
                click.echo(f"Record: {url}", err=True)
        return 128 + stop.signum
    finally:
        progress.stop()
    elapsed = time.perf_counter() - started
    verbose = opts.get("verbose", 0)
    if error is not None:
        if verbose:
            import traceback

            traceback.print_exception(error)
        click.echo(f"{click.style(f'Run {run.name} failed', fg='red', bold=True)} after {elapsed:.2f}s: {error}",
                   err=True)
        if run.url:
            click.echo(f"Record: {run.url}", err=True)
            _console_link(run.url, err=True)
        return 1
    click.echo(f"{click.style(f'Run {run.name} succeeded', fg='green')} in {elapsed:.2f}s ({progress.summary()})")
    for k, v in outputs.named_outputs.items():
        text = repr(v)
        if len(text) > MAX_OUTPUT_CHARS:
            more = f"({len(text):,} characters; all of it: flyte get run {run.name} -o json)"
            text = f"{text[:MAX_OUTPUT_CHARS]}... {more}"
        click.echo(f"  {k} = {text}")
    if run.url:
        click.echo(click.style(f"Record: {run.url}", dim=True))
        _console_link(run.url, err=False)
    return 0


def _console_link(record_url: str, err: bool) -> None:
    """``Console: <url>/runs/<name>`` when a ``flyte console`` serves this run's records (its state file says so)."""
    if not record_url.startswith("file://"):
        return
    from flyte.console.link import link_for_record

    link = link_for_record(record_url)
    if link:
        click.echo(f"Console: {link}", err=err)
