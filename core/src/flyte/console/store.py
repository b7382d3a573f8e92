"""What the console reads runs from: the :class:`RunStore` protocol, and the shapes it answers in.

A store answers with plain dicts in the shapes of the console's JSON API (``docs/console.md``):
``RunSummary``, ``Action``, ``Rendered``. Stores are synchronous; the ASGI adapter calls them on a
worker thread. Names that come from a URL are checked by the store: an unknown run or action is a
:class:`NotFound`, never a file outside the store.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

#: The phases an API answer uses (``flyte get``'s names).
PHASES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT")
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})

RunSummary = dict[str, Any]
Action = dict[str, Any]


class NotFound(LookupError):
    """No such run, action, log or report (HTTP 404)."""


class Forbidden(PermissionError):
    """The store does not allow this (abort of a local run, HTTP 403)."""


class BadRequest(ValueError):
    """A malformed parameter (a cursor that is not one of ours, HTTP 400)."""


@runtime_checkable
class RunStore(Protocol):
    """Runs and their actions, as the console shows them.

    ``since`` arguments take a ``cursor`` from an earlier answer of the same method and return only
    what changed after it (possibly a little more: callers merge by name).
    """

    source: str  # "local" | "devbox"
    title: str
    can_abort: bool

    def list_runs(self, *, phases: frozenset[str] = frozenset(), task: str | None = None, limit: int = 500,
                  since: str | None = None) -> tuple[list[RunSummary], str]:
        """Newest first: ``(runs, cursor)``."""
        ...

    def get_run(self, name: str, since: str | None = None) -> tuple[RunSummary, list[Action], str]:
        """The run (with ``inputs``/``outputs`` rendered), its actions (those changed since ``since``), a cursor."""
        ...

    def get_action(self, run: str, action: str) -> Action:
        """One action with ``inputs``, ``outputs``, ``error`` ({kind, message, traceback}), ``has_report``,
        ``has_logs``."""
        ...

    def logs(self, run: str, action: str, offset: str = "") -> dict[str, Any]:
        """``{"text", "offset" (next), "done"}``: the action's log from ``offset``, a string the store made in an
        earlier answer (opaque to the page, which passes it back; "" is the start). A string, not a number: a
        store may pack several positions, and JSON numbers above 2**53 lose digits in a browser."""
        ...

    def report(self, run: str, action: str) -> str:
        """The action's ``flyte.report`` HTML."""
        ...

    def abort(self, run: str) -> str:
        """Abort the run; its phase after the request."""
        ...


def one_line(text: str | None, limit: int = 500) -> str | None:
    """An error as one line for lists (the full text is in the action's detail)."""
    if not text:
        return None
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


_TRACEBACK = "Traceback (most recent call last):"


def split_traceback(text: str) -> tuple[str, str | None]:
    """``(message, traceback)`` of an error text that carries its Python traceback after its headline (as the
    ``ExecutionError`` messages of remote runs do); ``(text, None)`` when it has none."""
    at = text.find(_TRACEBACK)
    while at > 0 and text[at - 1] != "\n":  # only where a line starts
        at = text.find(_TRACEBACK, at + 1)
    if at < 0:
        return text.strip(), None
    message = text[:at].strip()
    traceback = text[at:].rstrip()
    return message or traceback.splitlines()[-1].strip(), traceback


def counts_of(actions: list[Action]) -> dict[str, int]:
    """``{"total": n, "<PHASE>": n, ...}`` (cache hits counted as ``CACHED``)."""
    out: dict[str, int] = {"total": len(actions)}
    for a in actions:
        key = "CACHED" if a.get("cache_hit") else str(a.get("phase"))
        out[key] = out.get(key, 0) + 1
    return out


def summary_duration(start: float | None, end: float | None, now: float) -> float | None:
    if not start:
        return None
    return max(0.0, (end or now) - start)


__all__ = [
    "PHASES", "TERMINAL", "Action", "BadRequest", "Forbidden", "NotFound", "RunStore", "RunSummary", "counts_of",
    "one_line", "split_traceback", "summary_duration",
]
