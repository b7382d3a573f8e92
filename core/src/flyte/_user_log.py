"""``flyte.logger``: the logger for user code, whose lines say which run and action wrote them.

Lines look like ``[r-abc12][a3] INFO loaded 120 rows`` inside a task and ``INFO ...`` outside.
The level is INFO unless ``USER_LOG_LEVEL`` (a name such as ``debug`` or a number) says otherwise,
as in the official SDK.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from flyte._context import current

_LEVELS = {"critical": 50, "error": 40, "warning": 30, "warn": 30, "info": 20, "debug": 10}


class ActionFilter(logging.Filter):
    """Stamps each record with ``run_name`` and ``action_name`` (``None`` outside a task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        tc = current()
        record.run_name = tc.action.run_name if tc is not None else None
        record.action_name = tc.action.name if tc is not None else None
        return True


class ActionFormatter(logging.Formatter):
    """``[run][action] LEVEL message`` inside a task, ``LEVEL message`` outside."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        run, action = getattr(record, "run_name", None), getattr(record, "action_name", None)
        return f"[{run}][{action}] {text}" if run and action else text


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (pytest's capture, a CLI's redirect)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def level_from_env(value: str | None) -> int:
    if not value:
        return logging.INFO
    if value.isdigit():
        return int(value)
    return _LEVELS.get(value.lower(), logging.INFO)


def _make() -> logging.Logger:
    log = logging.getLogger("flyte.user")
    if not any(isinstance(f, ActionFilter) for f in log.filters):
        log.addFilter(ActionFilter())
        handler = _Stderr()
        handler.setFormatter(ActionFormatter())
        log.addHandler(handler)
        log.propagate = False  # one line per message, whatever the root logger is set up to do
    log.setLevel(level_from_env(os.environ.get("USER_LOG_LEVEL")))
    return log


logger = _make()
# flyte's own messages (the official SDK exports this name too)
system_logger = logging.getLogger("flyte")

__all__ = ["ActionFilter", "ActionFormatter", "logger", "system_logger"]
