"""How ``flyte run`` finds a console serving its runs: a small state file in the runs dir.

``flyte console`` writes ``<runs dir>/.console.json`` (its URL, pid, the pid's start time, host)
while it serves and removes it on exit; a file whose process is gone (killed) is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

STATE_FILE = ".console.json"


def write_state(runs_dir: Path, url: str) -> Path | None:
    """Announce ``url`` for the runs under ``runs_dir``; the file written, or None if the folder is not writable."""
    from flyte._builtin.local.record_reader import HOST, process_start_time

    doc = {"url": url, "pid": os.getpid(), "pid_start": process_start_time(os.getpid()), "host": HOST}
    path = runs_dir / STATE_FILE
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        tmp = runs_dir / f"{STATE_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, path)
    except OSError:
        return None
    return path


def remove_state(path: Path | None) -> None:
    """Remove the state file if it is still ours."""
    if path is None:
        return
    with contextlib.suppress(OSError, ValueError):
        doc = json.loads(path.read_text())
        if doc.get("pid") == os.getpid():
            path.unlink()


def console_url(runs_dir: Path) -> str | None:
    """The URL of a console serving ``runs_dir`` now, or None."""
    from flyte._builtin.local.record_reader import owner_is_alive

    try:
        doc = json.loads((runs_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("url"), str):
        return None
    if owner_is_alive(doc) is not True:
        return None
    url: str = doc["url"]
    return url.rstrip("/")


def run_link(run_dir: Path) -> str | None:
    """The console link of the run recorded in ``run_dir`` (``<url>/runs/<name>``), or None if no console serves it."""
    from urllib.parse import quote

    base = console_url(run_dir.parent)
    return f"{base}/runs/{quote(run_dir.name)}" if base else None


def link_for_record(record_url: str) -> str | None:
    """The console link of a local run whose record is at ``record_url`` (``file:///...``), or None."""
    if not record_url.startswith("file://"):
        return None
    from urllib.parse import unquote, urlsplit

    return run_link(Path(unquote(urlsplit(record_url).path)))


__all__ = ["STATE_FILE", "console_url", "link_for_record", "remove_state", "run_link", "write_state"]
