"""``flyte get runs`` / ``flyte get run NAME``: local run records."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: float | None, end: float | None) -> str:
    if not start or not end:
        return "-"
    return f"{end - start:.2f}s"


def literal_to_display(lit: Any) -> Any:
    """A plain-Python rendering of a flyteidl2 Literal, without knowing its Python type."""
    which = lit.WhichOneof("value")
    if which == "collection":
        return [literal_to_display(x) for x in lit.collection.literals]
    if which == "map":
        return {k: literal_to_display(v) for k, v in lit.map.literals.items()}
    if which == "offloaded_metadata":
        return f"<offloaded {lit.offloaded_metadata.uri}>"
    if which != "scalar":
        return None
    s = lit.scalar
    kind = s.WhichOneof("value")
    if kind == "primitive":
        p = s.primitive
        pk = p.WhichOneof("value")
        if pk == "datetime":
            return p.datetime.ToDatetime().isoformat()
        if pk == "duration":
            return str(p.duration.ToTimedelta())
        return getattr(p, pk) if pk else None
    if kind == "none_type":
        return None
    if kind == "blob":
        return s.blob.uri
    if kind == "binary":
        if s.binary.tag == "msgpack":
            import msgpack

            try:
                return msgpack.unpackb(s.binary.value, strict_map_key=False)
            except Exception:
                pass
        return f"<{len(s.binary.value)} bytes, tag {s.binary.tag or '-'}>"
    if kind == "union":
        return literal_to_display(s.union.value)
    if kind == "generic":
        from google.protobuf.json_format import MessageToDict

        return MessageToDict(s.generic)
    if kind == "error":
        return f"<error {s.error.message}>"
    return f"<{kind}>"


def _decode_map(blob: bytes | None) -> dict[str, Any] | None:
    if blob is None:
        return None
    from flyteidl2.core.literals_pb2 import LiteralMap

    m = LiteralMap()
    m.ParseFromString(blob)
    return {k: literal_to_display(v) for k, v in m.literals.items()}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def get() -> None:
    """Show local runs and their actions."""


@get.command("runs")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="How many runs to show.")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--run-base-dir", default=None, help="Where local run records are kept.")
def get_runs(limit: int, output: str, run_base_dir: str | None) -> None:
    """List local runs, newest first."""
    from pathlib import Path

    from flyte._builtin.local.records import list_runs

    runs = list_runs(Path(run_base_dir) if run_base_dir else None)[:limit]
    if output == "json":
        click.echo(json.dumps(runs, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Local runs ({len(runs)})", title_justify="left")
    for col in ("name", "task", "phase", "started", "duration", "actions"):
        table.add_column(col, no_wrap=True)
    for r in runs:
        counts = r.get("counts") or {}
        table.add_row(
            r["name"], r.get("task", ""), _phase_markup(r.get("phase", "")), _when(r.get("start")),
            _duration(r.get("start"), r.get("end")), str(sum(counts.values())) if counts else "-",
        )
    Console().print(table)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _phase_markup(phase: str) -> str:
    color = {"SUCCEEDED": "green", "FAILED": "red", "RUNNING": "cyan", "TIMED_OUT": "red", "ABORTED": "yellow"}
    return f"[{color.get(phase, 'white')}]{phase}[/]"


@get.command("run")
@click.argument("name")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--run-base-dir", default=None, help="Where local run records are kept.")
def get_run(name: str, output: str, run_base_dir: str | None) -> None:
    """Show one local run: its actions and outputs."""
    from pathlib import Path

    from flyte._builtin.local.records import load_run

    try:
        run, actions = load_run(name, Path(run_base_dir) if run_base_dir else None)
    except FileNotFoundError as e:
        raise click.ClickException(str(e)) from None
    root = next((a for a in actions if a["name"] == "a0"), None)
    outputs = _decode_map(root["outputs"]) if root else None
    inputs = _decode_map(root["inputs"]) if root else None
    if output == "json":
        doc = dict(run, inputs=inputs, outputs=outputs, actions=[
            {k: v for k, v in a.items() if k not in ("inputs", "outputs")} for a in actions
        ])
        click.echo(json.dumps(doc, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    c = Console()
    c.print(f"[bold]{run['name']}[/]  task {run.get('task')}  {_phase_markup(run.get('phase', ''))}  "
            f"started {_when(run.get('start'))}  took {_duration(run.get('start'), run.get('end'))}")
    if run.get("error"):
        c.print(f"[red]error:[/] {run['error']}", markup=True, highlight=False)
    if inputs is not None:
        c.print(f"inputs:  {inputs!r}", markup=False, highlight=False)
    if outputs is not None:
        c.print(f"outputs: {outputs!r}", markup=False, highlight=False)
    table = Table(title=f"Actions ({len(actions)})", title_justify="left")
    table.add_column("action", no_wrap=True)
    table.add_column("task", overflow="fold", min_width=8)
    table.add_column("parent", no_wrap=True)
    grouped = any(a["group"] for a in actions)
    if grouped:
        table.add_column("group", overflow="fold")
    table.add_column("phase", no_wrap=True)
    table.add_column("tries", no_wrap=True, justify="right")
    table.add_column("took", no_wrap=True, justify="right")
    table.add_column("error", no_wrap=True)
    widest_task = max((len(a["task"]) for a in actions), default=4)
    # the error column gets what the others leave; the full text is in -o json
    room = max(12, c.width - 58 - min(widest_task, 30) - (12 if grouped else 0))
    shown = actions[:200]
    for a in shown:
        phase = "CACHED" if a.get("cache_hit") else a["phase"]
        cells = [a["name"], a["task"], a["parent"] or "-"] + ([a["group"] or ""] if grouped else [])
        cells += [_phase_markup(phase), str(a["attempts"]), _duration(a["start"], a["end"]),
                  _clip(a["error"] or "", room)]
        table.add_row(*cells)
    c.print(table)
    if len(actions) > len(shown):
        c.print(f"... {len(actions) - len(shown)} more actions (use --output json for all)")
