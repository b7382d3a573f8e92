"""What ``flyte deploy`` and ``flyte run deployed-task`` do with the remote runtime (core's CLI calls these through
``RemoteRuntime.cli_deploy`` / ``RemoteRuntime.cli_run_deployed``)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import click

MAX_OUTPUT_CHARS = 2000


def cli_deploy(modules: list[Any], path: str, opts: dict[str, Any]) -> int:
    """Deploy the environments of ``modules`` (loaded from ``path``); print one line per task."""
    from flyte.admin import AdminError
    from flyte.cli.remote import describe_error
    from flyte.remote.connection import target
    from flyte.remote.task import status_of

    from flyte_remote.cli import _build_progress
    from flyte_remote.deploy import DeployError, code_root, deploy, environments_of, parse_images

    t = target(opts.get("project"), opts.get("domain"))
    try:
        objects = [v for m in modules for v in vars(m).values()]
        envs = environments_of(objects)
        if not envs:
            raise DeployError(f"No TaskEnvironment in {path}: nothing to deploy")
        images = parse_images(opts.get("images") or ())
        started = time.perf_counter()
        with _build_progress(opts):  # images built first show their progress
            done = asyncio.run(deploy(envs, root=code_root(Path(path)), target=t, version=opts.get("version"),
                                      images=images, dry_run=bool(opts.get("dry_run"))))
    except DeployError as e:
        raise click.ClickException(str(e)) from None
    except Exception as e:
        if not status_of(e) and not isinstance(e, AdminError):
            raise
        raise click.ClickException(describe_error(e, t.settings.target)) from None
    if opts.get("dry_run"):
        click.echo(f"Dry run: {len(done)} task(s) of {len(envs)} environment(s) would be deployed to "
                   f"{t.project}/{t.domain} as version {done[0].version} (nothing was uploaded):")
    elif not any(d.created for d in done):
        click.echo(f"Nothing changed: all {len(done)} task(s) of {len(envs)} environment(s) are already deployed to "
                   f"{t.project}/{t.domain} as version {done[0].version} (nothing was registered):")
    else:
        fresh = sum(d.created for d in done)
        known = f" ({len(done) - fresh} already there)" if fresh < len(done) else ""
        click.echo(f"Deployed {fresh} task(s){known} of {len(envs)} environment(s) to {t.project}/{t.domain} "
                   f"as version {done[0].version} in {time.perf_counter() - started:.2f}s:")
    for d in done:
        click.echo(f"  {d.name}:{d.version}  image {d.image}")
    if not opts.get("dry_run"):
        click.echo(f"Run one: flyte run deployed-task {done[0].name} --help")
    return 0


def cli_run_deployed(task: Any, kwargs: dict[str, Any], opts: dict[str, Any]) -> int:
    """Submit a run of the deployed ``task`` (a :class:`flyte.remote.Task`), then show it like ``flyte run``."""
    from flyte.remote.connection import target
    from flyte.runtime import RunOptions

    from flyte_remote.cli import _Counts, _final_counts, _watch_counts
    from flyte_remote.deploy import submit_deployed
    from flyte_remote.runtime import RemoteRunHandle

    t = target(opts.get("project") or task.project, opts.get("domain") or task.domain)
    options = RunOptions(name=opts.get("name"), env_vars=opts.get("env_vars") or {},
                         overwrite_cache=bool(opts.get("overwrite_cache")),
                         raw_data_path=opts.get("raw_data_path"),
                         max_action_concurrency=opts.get("max_concurrency"))
    counts = _Counts(bool(opts.get("progress", True)) and sys.stderr.isatty())
    started = time.perf_counter()

    async def go() -> int:
        sub = await submit_deployed(task, (), kwargs, options, t)
        handle = RemoteRunHandle(sub.name, t, task, sub.phase)
        click.echo(f"Run {click.style(handle.name, bold=True)} of {task.name}:{task.version} submitted: {handle.url}",
                   err=True)
        if opts.get("detach"):
            return 0
        watcher = asyncio.create_task(_watch_counts(handle, counts))
        try:
            try:
                outputs = await handle.outputs_async()
                error: BaseException | None = None
            except Exception as e:
                outputs, error = None, e
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            counts.clear()
        await _final_counts(handle, counts)
        elapsed = time.perf_counter() - started
        if error is not None:
            click.echo(f"{click.style(f'Run {handle.name} failed', fg='red', bold=True)} after {elapsed:.2f}s: "
                       f"{error}", err=True)
            return 1
        click.echo(f"{click.style(f'Run {handle.name} succeeded', fg='green')} in {elapsed:.2f}s ({counts.line()})")
        assert outputs is not None
        for k, v in outputs.named_outputs.items():
            text = repr(v)
            if len(text) > MAX_OUTPUT_CHARS:
                text = f"{text[:MAX_OUTPUT_CHARS]}... ({len(text):,} characters)"
            click.echo(f"  {k} = {text}")
        return 0

    try:
        return asyncio.run(go())
    except Exception as e:
        from flyte.cli.remote import describe_error
        from flyte.errors import FlyteError
        from flyte.remote.task import status_of

        if status_of(e):
            raise click.ClickException(describe_error(e, t.settings.target)) from None
        if isinstance(e, FlyteError):  # bad inputs, AdminError: one line
            raise click.ClickException(str(e)) from None
        raise
    except KeyboardInterrupt:
        counts.clear()
        click.echo("Detached: the run goes on (`flyte get runs` lists it).", err=True)
        return 130
