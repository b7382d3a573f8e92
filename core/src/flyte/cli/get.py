"""``flyte get runs`` / ``flyte get run NAME``: local run records.

Listings are plain text (rich is loaded only for ``--watch``): run names are never cut; on a
narrow terminal the task and error columns wrap instead, and when the output is not a terminal
every value is shown whole on one line.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import click

from flyte.cli.table import Column, render, terminal_width

PHASE_COLORS = {
    "SUCCEEDED": "green", "FAILED": "red", "TIMED_OUT": "red", "RUNNING": "cyan", "ABORTED": "yellow",
    "CACHED": "blue", "QUEUED": "white",
}
# --phase names; "failed" covers both ways an action fails
PHASE_FILTERS = {
    "queued": {"QUEUED"}, "running": {"RUNNING"}, "succeeded": {"SUCCEEDED"}, "cached": {"CACHED"},
    "failed": {"FAILED", "TIMED_OUT"}, "timed_out": {"TIMED_OUT"}, "aborted": {"ABORTED"},
}
# failures first, then what has not finished, then the rest in the order they were recorded
_RANK = {"FAILED": 0, "TIMED_OUT": 0, "ABORTED": 1, "RUNNING": 2, "QUEUED": 3}
TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: float | None, end: float | None, running: bool = False) -> str:
    if start and not end and running:
        return f"{time.time() - start:.1f}s…"
    if not start or not end:
        return "-"
    return f"{end - start:.2f}s"


def _phase_cell(phase: str) -> tuple[str, dict[str, Any]]:
    return phase, {"fg": PHASE_COLORS.get(phase, "white")}


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def literal_to_display(lit: Any) -> Any:
    """A plain-Python rendering of a flyteidl2 Literal, without knowing its Python type (the console's)."""
    from flyte.console.render import literal_value

    return literal_value(lit)


def _decode_map(blob: bytes | None) -> dict[str, Any] | None:
    if blob is None:
        return None
    from flyteidl2.core.literals_pb2 import LiteralMap

    m = LiteralMap()
    m.ParseFromString(blob)
    return {k: literal_to_display(v) for k, v in m.literals.items()}


def _base(run_base_dir: str | None) -> Path | None:
    return Path(run_base_dir) if run_base_dir else None


def _load(name: str, run_base_dir: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from flyte._builtin.local.records import load_run

    try:
        return load_run(name, _base(run_base_dir))
    except FileNotFoundError as e:
        raise click.ClickException(str(e)) from None


def complete_run_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of NAME: the local runs whose name starts with what is typed (newest first)."""
    from click.shell_completion import CompletionItem

    try:
        from flyte._builtin.local.records import list_runs

        runs = list_runs(_base(ctx.params.get("run_base_dir")))
    except Exception:
        return []  # completion stays silent: no records, an unreadable folder, a broken config
    return [CompletionItem(r["name"], help=f"{r.get('task', '')} {r.get('phase', '')}".strip())
            for r in runs if str(r["name"]).startswith(incomplete)]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def get() -> None:
    """Show local runs and their actions."""


RUN_COLUMNS = (
    Column("name"), Column("task", wrap=True, min_width=12), Column("phase"),
    Column("started", wrap=True, min_width=10), Column("duration", right=True), Column("actions", right=True),
)


@get.command("runs")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="How many runs to show.")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--run-base-dir", default=None, help="Where local run records are kept.")
def get_runs(limit: int, output: str, run_base_dir: str | None) -> None:
    """List runs, newest first: the control plane's when an endpoint is configured, else local ones."""
    from flyte.cli.remote_get import remote_runs, use_remote

    if use_remote(run_base_dir):
        return remote_runs(limit, output)
    from flyte._builtin.local.records import list_runs

    every = list_runs(_base(run_base_dir))
    runs = every[:limit]
    if len(every) > limit:
        # on stderr: what is piped stays a clean listing
        click.echo(f"Showing the newest {limit} of {len(every)} runs; --limit {len(every)} shows all.", err=True)
    if output == "json":
        click.echo(json.dumps(runs, indent=2))
        return
    if not runs:
        click.echo("No local runs yet.", err=True)
        return
    rows = []
    for r in runs:
        counts = r.get("counts") or {}
        phase = r.get("phase", "")
        rows.append([r["name"], r.get("task", ""), _phase_cell(phase), _when(r.get("start")),
                     _duration(r.get("start"), r.get("end"), phase == "RUNNING"),
                     str(sum(counts.values())) if counts else "-"])
    for line in render(RUN_COLUMNS, rows, terminal_width(), stack_first=True):
        click.echo(line)


def _phase_of(a: dict[str, Any]) -> str:
    return "CACHED" if a.get("cache_hit") else str(a.get("phase", ""))


def order_actions(actions: list[dict[str, Any]], phases: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Failed actions first, then unfinished ones, then the rest as recorded; only ``phases`` if given."""
    wanted: set[str] = set().union(*(PHASE_FILTERS[p] for p in phases)) if phases else set()
    kept = [a for a in actions if not wanted or _phase_of(a) in wanted]
    return sorted(kept, key=lambda a: _RANK.get(_phase_of(a), 9))  # stable: recorded order within a rank


def _actions_table(actions: list[dict[str, Any]], width: int | None) -> list[str]:
    grouped = any(a.get("group") for a in actions)
    columns = [Column("action"), Column("task", wrap=True, min_width=12), Column("parent")]
    if grouped:
        columns.append(Column("group", wrap=True))
    columns += [Column("phase"), Column("tries", right=True), Column("took", right=True),
                Column("error", wrap=True, min_width=16)]
    rows = []
    for a in actions:
        phase = _phase_of(a)
        cells: list[Any] = [a["name"], a["task"], a.get("parent") or "-"]
        if grouped:
            cells.append(a.get("group") or "")
        cells += [_phase_cell(phase), str(a.get("attempts", "")),
                  _duration(a.get("start"), a.get("end"), phase == "RUNNING"),
                  (_one_line(a.get("error")), {"fg": "red"})]
        rows.append(cells)
    return render(columns, rows, width, stack_first=True)


def _summary_lines(run: dict[str, Any], inputs: Any, outputs: Any) -> list[str]:
    phase = run.get("phase", "")
    lines = [
        f"{click.style(run['name'], bold=True)}  task {run.get('task')}  "
        f"{click.style(phase, fg=PHASE_COLORS.get(phase, 'white'))}  started {_when(run.get('start'))}  "
        f"took {_duration(run.get('start'), run.get('end'), phase == 'RUNNING')}"
    ]
    counts = run.get("counts") or {}
    if counts:
        lines.append("actions: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if run.get("error"):
        lines.append(f"{click.style('error:', fg='red')} {run['error']}")
    if inputs is not None:
        lines.append(f"inputs:  {_clipped(inputs)}")
    if outputs is not None:
        lines.append(f"outputs: {_clipped(outputs)}")
    return lines


MAX_VALUE_CHARS = 2000


def _clipped(value: Any) -> str:
    text = repr(value)
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return f"{text[:MAX_VALUE_CHARS]}... ({len(text):,} characters; all of it: -o json)"


def _root_io(actions: list[dict[str, Any]]) -> tuple[Any, Any]:
    root = next((a for a in actions if a["name"] == "a0"), None)
    if root is None:
        return None, None
    return _decode_map(root.get("inputs")), _decode_map(root.get("outputs"))


def run_view(run: dict[str, Any], actions: list[dict[str, Any]], phases: tuple[str, ...], limit: int,
             width: int | None) -> list[str]:
    """What ``flyte get run NAME`` prints: the run, then its actions (failures first)."""
    inputs, outputs = _root_io(actions)
    lines = _summary_lines(run, inputs, outputs)
    chosen = order_actions(actions, phases)
    shown = chosen[:limit]
    which = f"{', '.join(phases)} actions" if phases else "actions"
    lines.append("")
    if not chosen:
        lines.append(f"No {which} (of {len(actions)})." if phases else "No actions recorded yet.")
        return lines
    title = f"{which.capitalize()} ({len(chosen)}" + (f" of {len(actions)})" if phases else ")")
    if not phases and any(_RANK.get(_phase_of(a), 9) == 0 for a in shown):
        title += ", failed first"
    lines.append(click.style(title, bold=True))
    lines += _actions_table(shown, width)
    if len(chosen) > len(shown):
        lines.append(f"... {len(chosen) - len(shown)} more; --limit {len(chosen)} shows all, --phase filters, "
                     "-o json has everything")
    return lines


def action_view(run: dict[str, Any], a: dict[str, Any]) -> list[str]:
    """One action in full: where it sits, its inputs and outputs, its error and traceback."""
    phase = _phase_of(a)
    lines = [
        f"{click.style(a['name'], bold=True)} of run {run['name']}  task {a['task']}  "
        f"{click.style(phase, fg=PHASE_COLORS.get(phase, 'white'))}",
        f"parent: {a.get('parent') or '-'}" + (f"  group: {a['group']}" if a.get("group") else ""),
        f"started {_when(a.get('start'))}  took {_duration(a.get('start'), a.get('end'), phase == 'RUNNING')}  "
        f"attempts {a.get('attempts', 0)}",
    ]
    inputs, outputs = _decode_map(a.get("inputs")), _decode_map(a.get("outputs"))
    if inputs is not None:
        lines.append(f"inputs:  {_clipped(inputs)}")
    if outputs is not None:
        lines.append(f"outputs: {_clipped(outputs)}")
    if a.get("error"):
        lines.append(f"{click.style('error:', fg='red')} {a['error']}")
    tb = a.get("traceback")
    if tb:
        lines.append(click.style("traceback:", fg="red"))
        lines += [f"  {line}" for line in str(tb).rstrip().splitlines()]
    elif phase in ("FAILED", "TIMED_OUT"):
        lines.append(click.style("(no traceback was recorded for this failure)", dim=True))
    return lines


def _action_json(a: dict[str, Any]) -> dict[str, Any]:
    doc = {k: v for k, v in a.items() if k not in ("inputs", "outputs")}
    doc["inputs"] = _decode_map(a.get("inputs"))
    doc["outputs"] = _decode_map(a.get("outputs"))
    return doc


def report_paths(name: str, run_base_dir: str | None) -> dict[str, Path]:
    """Action name -> its HTML report (flyte.report), for the actions that kept one."""
    from flyte._builtin.local.records import runs_dir

    folder = (_base(run_base_dir) or runs_dir()) / name / "reports"
    if not folder.is_dir():
        return {}
    found = {p.stem: p for p in folder.glob("*.html")}
    return dict(sorted(found.items(), key=lambda kv: (len(kv[0]), kv[0])))  # a2 before a10


def _report_lines(reports: dict[str, Path]) -> list[str]:
    if not reports:
        return []
    lines = ["", click.style(f"Reports ({len(reports)}; open in a browser)", bold=True)]
    lines += [f"  {action}  {path.resolve().as_uri()}" for action, path in reports.items()]
    return lines


@get.command("run")
@click.argument("name", shell_complete=complete_run_names)
@click.option("--action", "action", default=None, metavar="ACTION",
              help="Show one action (e.g. a12) in full: inputs, outputs, error and traceback.")
@click.option("--phase", "phases", multiple=True, type=click.Choice(sorted(PHASE_FILTERS), case_sensitive=False),
              help="Only actions in this phase (repeat for several; failed includes timed_out).")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True, help="How many actions to list.")
@click.option("--watch", "-w", is_flag=True, help="Keep the view live until the run ends.")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--run-base-dir", default=None, help="Where local run records are kept.")
@click.option("--timeline", "timeline", default=None, metavar="FILE",
              help="Write the run's timeline to FILE (.svg, or .png drawn by headless Chromium) and exit.")
def get_run(name: str, action: str | None, phases: tuple[str, ...], limit: int, watch: bool, output: str,
            run_base_dir: str | None, timeline: str | None) -> None:
    """Show one run: its actions (failed ones first) and outputs; works while the run goes."""
    from flyte.cli.remote_get import remote_run, use_remote

    phases = tuple(p.lower() for p in phases)
    if timeline is not None:
        return _write_timeline(name, run_base_dir, timeline, remote=use_remote(run_base_dir))
    if use_remote(run_base_dir):
        return remote_run(name, output, watch=watch, action=action, phases=phases, limit=limit)
    if watch and output == "table" and action is None:
        _watch(name, run_base_dir, phases, limit)
        return
    if watch:
        _wait_until_done(name, run_base_dir)
    run, actions = _load(name, run_base_dir)
    if action is not None:
        found = next((a for a in actions if a["name"] == action), None)
        if found is None:
            names = [a["name"] for a in actions]
            hint = f"it has {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}" if names else "it has none yet"
            raise click.ClickException(f"Run '{name}' has no action '{action}'; {hint}")
        report = report_paths(name, run_base_dir).get(action)
        if output == "json":
            doc = _action_json(found)
            doc["report"] = str(report) if report else None
            click.echo(json.dumps(doc, indent=2, default=str))
        else:
            for line in action_view(run, found):
                click.echo(line)
            if report:
                click.echo(f"report: {report.resolve().as_uri()}")
        return
    if output == "json":
        inputs, outputs = _root_io(actions)
        chosen = order_actions(actions, phases) if phases else actions
        doc = dict(run, inputs=inputs, outputs=outputs, actions=[
            {k: v for k, v in a.items() if k not in ("inputs", "outputs")} for a in chosen
        ], reports={k: str(v) for k, v in report_paths(name, run_base_dir).items()})
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    reports = _report_lines(report_paths(name, run_base_dir))
    for line in run_view(run, actions, phases, limit, terminal_width()) + reports:
        click.echo(line)


def _write_timeline(name: str, run_base_dir: str | None, dest: str, remote: bool) -> None:
    """``--timeline FILE``: one bar per action attempt, coloured by phase (flyte.console.timeline)."""
    from flyte.console.local import LocalRunStore
    from flyte.console.store import NotFound
    from flyte.console.timeline import TimelineError, write_timeline

    try:
        if remote:
            run, actions = _remote_timeline_data(name)
        else:
            run, actions, _ = LocalRunStore(_base(run_base_dir)).get_run(name)
        path = write_timeline(run, actions, dest)
    except NotFound as e:
        raise click.ClickException(str(e)) from None
    except TimelineError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"Timeline of run {name} ({len(actions)} actions): {path}")


def _remote_timeline_data(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A control-plane run and its actions in the console API's shapes (action-level times: ListActions)."""
    from flyteidl2.common import list_pb2
    from flyteidl2.core import catalog_pb2
    from flyteidl2.workflow import run_service_pb2 as rs

    from flyte.cli.remote import call
    from flyte.cli.remote_get import _run_id
    from flyte.remote.names import phase_name

    run_id = _run_id(name)

    async def fetch(client: Any) -> tuple[Any, list[Any]]:
        details = await client.run.GetRunDetails(rs.GetRunDetailsRequest(run_id=run_id))
        found: list[Any] = []
        token = ""
        while True:
            page = await client.run.ListActions(rs.ListActionsRequest(
                run_id=run_id, request=list_pb2.ListRequest(limit=1000, token=token)))
            found += page.actions
            token = page.token
            if not token or not page.actions:
                return details.details, found

    def seconds(st: Any, field: str) -> float | None:
        return getattr(st, field).ToNanoseconds() / 1e9 if st.HasField(field) else None

    details, listed = call(fetch)
    actions = []
    map_index: dict[tuple[str, str], int] = {}
    for x in listed:
        st = x.status
        phase, start, end = phase_name(st.phase), seconds(st, "start_time"), seconds(st, "end_time")
        n = max(st.attempts, 1)
        tries: list[dict[str, Any]] = [{"n": i, "phase": "FAILED", "start": None, "end": None} for i in range(1, n)]
        tries.append({"n": n, "phase": phase, "start": start, "end": end})
        task = x.metadata.task.id.name or x.metadata.trace.name or ""
        group = x.metadata.group or None
        mapped = None
        if group and group.startswith(task.rsplit(".", 1)[-1] + "_"):  # flyte.map's group: "<task>_map"
            i = map_index[(x.metadata.parent, group)] = map_index.get((x.metadata.parent, group), -1) + 1
            mapped = {"of": group, "index": i}
        actions.append({"name": x.id.name, "parent": x.metadata.parent or None, "task": task, "group": group,
                        "map": mapped, "phase": phase, "start": start, "end": end, "attempts": tries,
                        "cache_hit": st.cache_status == catalog_pb2.CACHE_HIT, "error": None})
    a = details.action
    start, end = seconds(a.status, "start_time"), seconds(a.status, "end_time")
    run = {"name": name, "task": a.metadata.task.id.name, "phase": phase_name(a.status.phase), "start": start,
           "end": end, "duration": (end or time.time()) - start if start else None}
    return run, actions


WATCH_INTERVAL = 0.5


def _load_again(name: str, run_base_dir: str | None, last: Any) -> Any:
    """The record once more while watching; a read that fails mid-write keeps the last one (a few times)."""
    for attempt in range(10):
        try:
            return _load(name, run_base_dir)
        except click.ClickException:
            if last is None or attempt == 9:
                raise
            time.sleep(WATCH_INTERVAL / 5)
    return last  # pragma: no cover - the loop returns or raises


def _wait_until_done(name: str, run_base_dir: str | None) -> None:
    record = _load(name, run_base_dir)
    while record[0].get("phase") not in TERMINAL:
        time.sleep(WATCH_INTERVAL)
        record = _load_again(name, run_base_dir, record)


def _watch(name: str, run_base_dir: str | None, phases: tuple[str, ...], limit: int) -> None:
    """Redraw the run's view until it ends, then leave the final view on the screen.

    Not on a terminal, nothing is drawn until the run ends; then the final view is printed once.
    """
    import shutil
    import sys

    if not sys.stdout.isatty():
        _wait_until_done(name, run_base_dir)
        run, actions = _load(name, run_base_dir)
        for line in run_view(run, actions, phases, limit, None):
            click.echo(line)
        return
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    last: Any = None

    def frame() -> tuple[Text, bool]:
        nonlocal last
        last = _load_again(name, run_base_dir, last)
        run, actions = last
        size = shutil.get_terminal_size()
        # as many actions as the terminal has room for (failed and running ones come first)
        room = max(3, size.lines - 10)
        lines = run_view(run, actions, phases, min(limit, room), size.columns)
        done = run.get("phase") in TERMINAL
        if not done:
            lines.append(click.style(f"watching; refreshed {dt.datetime.now():%H:%M:%S}  (Ctrl-C stops watching, "
                                     "not the run)", dim=True))
        return Text.from_ansi("\n".join(lines)), done

    text, done = frame()
    with Live(text, console=Console(), auto_refresh=False, transient=False) as live:
        while not done:
            time.sleep(WATCH_INTERVAL)
            text, done = frame()
            live.update(text, refresh=True)


def _add_remote_commands() -> None:
    from flyte.cli.remote_get import register

    register(get)


_add_remote_commands()

__all__ = ["get", "literal_to_display", "order_actions"]
