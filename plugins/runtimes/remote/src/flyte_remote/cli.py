"""``flyte run --runtime remote FILE TASK``: submit, show the run, follow it, print the outputs like a local run.

Prints the run's name and URL, then a live line of action counts by phase (on a terminal), waits
and prints the outputs (or the error, exit code 1). Ctrl-C detaches: the run goes on, and the
message says how to follow or abort it. ``--detach`` returns right after the submission;
``--follow`` streams the root action's logs while waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter
from typing import Any

import click

MAX_OUTPUT_CHARS = 2000
_ORDER = ("QUEUED", "WAITING_FOR_RESOURCES", "INITIALIZING", "RUNNING", "SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT")


def _hints(run: Any) -> str:
    t = run.handle.target
    scope = f"flyte --project {t.project} --domain {t.domain}"
    return (f"  follow it: {scope} get run {run.name} --watch\n"
            f"  logs:      {scope} get logs {run.name} --follow\n"
            f"  abort it:  {scope} abort run {run.name}")


class _Counts:
    """Phase per action of the run, from one WatchActions stream; a line redrawn in place on a terminal."""

    def __init__(self, live: bool) -> None:
        self.phases: dict[str, str] = {}
        self.live = live
        self._last = ""

    def line(self) -> str:
        c = Counter(self.phases.values())
        parts = [f"{c[p]} {p.lower()}" for p in _ORDER if c.get(p)]
        n = len(self.phases)
        return f"{n} action{'' if n == 1 else 's'}: " + ", ".join(parts) if parts else "waiting for actions"

    def show(self) -> None:
        if not self.live:
            return
        text = self.line()
        if text != self._last:
            self._last = text
            sys.stderr.write("\r\x1b[2K" + text)
            sys.stderr.flush()

    def clear(self) -> None:
        if self.live and self._last:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            self._last = ""


async def _watch_counts(handle: Any, counts: _Counts) -> None:
    from flyte.admin import connect
    from flyte.remote.names import phase_name
    from flyteidl2.workflow import run_service_pb2 as rs

    async with await connect(handle.target.settings) as client:
        req = rs.WatchActionsRequest(run_id=handle.run_id())
        async for resp in client.watch(client.run.WatchActions, req):
            for ea in resp.enriched_actions:
                counts.phases[ea.action.id.name] = phase_name(ea.action.status.phase)
            counts.show()


async def _final_counts(handle: Any, counts: _Counts) -> None:
    """Every action's final phase (ListActions, page by page): the summary must not depend on the watch's timing."""
    from flyte.admin import connect
    from flyte.remote.names import phase_name
    from flyteidl2.common import list_pb2
    from flyteidl2.workflow import run_service_pb2 as rs

    token = ""
    async with await connect(handle.target.settings) as client:
        for _ in range(10_000):
            resp = await client.run.ListActions(
                rs.ListActionsRequest(run_id=handle.run_id(), request=list_pb2.ListRequest(limit=1000, token=token)))
            for a in resp.actions:
                counts.phases[a.id.name] = phase_name(a.status.phase)
            token = resp.token
            if not token or not resp.actions:
                return


async def _follow_logs(handle: Any, counts: _Counts) -> None:
    """Stream the root action's logs, attempt after attempt, until it has ended and its last stream is read."""
    from flyte.admin import connect
    from flyte.remote.names import phase_name
    from flyteidl2.common import identifier_pb2
    from flyteidl2.dataproxy import dataproxy_service_pb2 as dp
    from flyteidl2.workflow import run_service_pb2 as rs

    aid = identifier_pb2.ActionIdentifier(run=handle.run_id(), name="a0")
    attempt = 0
    async with await connect(handle.target.settings) as client:
        while True:
            details = await client.run.GetActionDetails(rs.GetActionDetailsRequest(action_id=aid))
            ended = phase_name(details.details.status.phase) in ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT")
            n = details.details.status.attempts
            if n > attempt:
                attempt = n
                try:
                    async for resp in client.watch(client.dataproxy.TailLogs,
                                                   dp.TailLogsRequest(action_id=aid, attempt=n)):
                        for logs in resp.logs:
                            for line in logs.lines:
                                counts.clear()
                                click.echo(line.message)
                                counts.show()
                except Exception as e:  # logs are a convenience: the run's outcome still decides
                    counts.clear()
                    click.echo(f"(logs of attempt {n} unavailable: {e})", err=True)
                continue
            if ended:
                return
            await asyncio.sleep(0.3)


@contextlib.contextmanager
def _build_progress(opts: dict[str, Any]) -> Any:
    """While submitting: images built first show their progress as ``flyte build`` shows it (a live panel of
    the log's last lines on a terminal; one line per image otherwise). A failure's log tail is in the error."""
    from flyte.cli.build import BuildDisplay
    from rich.console import Console

    from flyte_remote.images import BUILD_PROGRESS

    console = Console(stderr=True, highlight=False)
    display = BuildDisplay(console, live=bool(opts.get("progress", True)) and console.is_terminal)

    def on_status(uri: str, status: str) -> None:
        if status in ("building", "pushed", "built"):
            display.status(uri, status)

    token = BUILD_PROGRESS.set((on_status, display.output))
    try:
        yield
    finally:
        BUILD_PROGRESS.reset(token)
        display.close()


def cli_execute(task: Any, kwargs: dict[str, Any], opts: dict[str, Any]) -> int:
    """What ``flyte run`` does with the remote runtime (see the module docstring). Returns the exit code."""
    import flyte

    runner = flyte.with_runcontext(
        mode="remote",
        name=opts.get("name"),
        raw_data_path=opts.get("raw_data_path"),
        run_base_dir=opts.get("run_base_dir"),
        env_vars=opts.get("env_vars") or {},
        overwrite_cache=bool(opts.get("overwrite_cache")),
        max_action_concurrency=opts.get("max_concurrency"),
        **({"images": opts["images"]} if opts.get("images") else {}),
    )
    live = bool(opts.get("progress", True)) and sys.stderr.isatty()
    counts = _Counts(live)
    state: dict[str, Any] = {}
    started = time.perf_counter()

    async def go() -> int:
        with _build_progress(opts):
            run = await runner.submit(task, **kwargs)
        state["run"] = run
        click.echo(f"Run {click.style(run.name, bold=True)} submitted: {run.url}", err=True)
        if opts.get("detach"):
            click.echo(_hints(run), err=True)
            return 0
        handle = run.handle
        side = [asyncio.create_task(_watch_counts(handle, counts))]
        logs = asyncio.create_task(_follow_logs(handle, counts)) if opts.get("follow") else None
        try:
            try:
                outputs = await run.outputs.aio()
                error: BaseException | None = None
            except Exception as e:
                outputs, error = None, e
            if logs is not None:  # the last lines, written just before the action ended
                await asyncio.wait({logs}, timeout=10)
                side.append(logs)
        finally:
            for t in side:
                t.cancel()
            await asyncio.gather(*side, return_exceptions=True)
            counts.clear()
        elapsed = time.perf_counter() - started
        with contextlib.suppress(Exception):  # the live counts stand in; the outcome does not depend on them
            await _final_counts(handle, counts)
        summary = counts.line()
        from flyte.admin import AdminError

        if isinstance(error, AdminError):  # not the run's outcome: following it failed
            click.echo(f"{click.style('Error', fg='red', bold=True)}: {error}", err=True)
            click.echo(_hints(run), err=True)
            return 1
        if error is not None:
            if opts.get("verbose"):
                import traceback

                traceback.print_exception(error)
            from flyte.runtime import Phase

            ended = "was aborted" if getattr(handle, "_phase", None) == Phase.ABORTED else "failed"
            click.echo(f"{click.style(f'Run {run.name} {ended}', fg='red', bold=True)} after {elapsed:.2f}s: {error}",
                       err=True)
            tb = getattr(error, "remote_traceback", None)
            if tb and opts.get("verbose"):
                click.echo(tb, err=True)
            click.echo(f"Record: {run.url}", err=True)
            return 1
        click.echo(f"{click.style(f'Run {run.name} succeeded', fg='green')} in {elapsed:.2f}s ({summary})")
        for k, v in outputs.named_outputs.items():
            text = repr(v)
            if len(text) > MAX_OUTPUT_CHARS:
                text = f"{text[:MAX_OUTPUT_CHARS]}... ({len(text):,} characters)"
            click.echo(f"  {k} = {text}")
        click.echo(click.style(f"Record: {run.url}", dim=True))
        return 0

    from flyte.admin import AdminError

    try:
        return asyncio.run(go())
    except AdminError as e:  # the submission failed: one line (status, the server's message, what to check)
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        counts.clear()
        run = state.get("run")
        if run is None:
            click.echo("Interrupted while submitting; if the run was created, `flyte get runs` lists it.", err=True)
            return 130
        click.echo(f"\nDetached from run {run.name}; it goes on: {run.url}", err=True)
        click.echo(_hints(run), err=True)
        return 130
