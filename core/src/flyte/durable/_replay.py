"""Values an action records the first time and gets back on every later attempt.

Each call inside an action is numbered in call order (``time#0``, ``random#1``...). The first
attempt records the value; a retried attempt of the same action (its body failed, or it timed
out) replays the recorded values in the same order, so it takes the same decisions. Records live
in the run's directory (``durable/<action>.json``) and in memory when that is not writable.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flyte._context import current

logger = logging.getLogger("flyte.durable")

_lock = threading.Lock()
_memory: dict[tuple[str, str], dict[str, Any]] = {}  # (run, action) -> recorded values


def _file(tc: Any) -> Path | None:
    base = str(tc.run_base_dir or "")
    if not base or ("://" in base and not base.startswith("file://")):
        return None  # a run directory in object storage: this process's memory only
    return Path(base.removeprefix("file://")) / "durable" / f"{tc.action.name}.json"


def _load(tc: Any) -> dict[str, Any]:
    key = (tc.action.run_name, tc.action.name)
    values = _memory.get(key)
    if values is None:
        values = {}
        path = _file(tc)
        if path is not None and path.is_file():
            try:
                values = json.loads(path.read_text())
            except (OSError, ValueError) as e:
                logger.warning("Ignoring unreadable durable values %s: %s", path, e)
        _memory[key] = values
    return values


def _store(tc: Any, values: dict[str, Any]) -> None:
    path = _file(tc)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".json.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(values))
        os.replace(tmp, path)
    except OSError as e:  # memory still replays within this process
        logger.debug("durable values not written to %s: %s", path, e)


def recorded(kind: str, make: Callable[[], Any]) -> Any:
    """The value of this action's next ``kind`` call: recorded by the first attempt, replayed after.

    Outside a task nothing is recorded: ``make()`` is returned.
    """
    tc = current()
    if tc is None:
        return make()
    with _lock:
        seq = tc.data.get("durable_seq", 0)
        tc.data["durable_seq"] = seq + 1
        values = _load(tc)
        slot = f"{kind}#{seq}"
        if slot in values:
            return values[slot]
        value = make()
        values[slot] = value
        _store(tc, values)
        return value
