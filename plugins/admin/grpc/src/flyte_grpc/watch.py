"""Server-streaming watches that survive a dropped connection without losing or repeating updates.

How: flyteidl2 watches are *state* streams: on subscribe the server sends the current state of what
is watched (a snapshot), then changes. So resuming = subscribing again with the same request, and
the client filters what it already delivered:

- every update is split into items with an identity (the action or run it describes, a log line's
  position) and a version (the item's deterministic serialization);
- an item is delivered only when its version differs from the last one delivered for its identity,
  so the snapshot after a reconnect repeats nothing, and any change made while disconnected arrives
  (as the entity's latest state: a server that keeps only current state cannot replay intermediate
  phases nobody saw);
- the ``ControlMessage{sentinel: true}`` that ends a snapshot is delivered once: after a resume the
  consumer is already past the snapshot;
- log lines are identified by position per container: a re-sent prefix is skipped.

UNAVAILABLE (server gone, connection reset) and UNAUTHENTICATED (after a token refresh) reopen the
stream with backoff; any other error is raised. A stream the server ends normally ends the watch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import grpc.aio
from flyte.admin import AdminError

from flyte_grpc.auth import Authenticator
from flyte_grpc.interceptors import backoff

RESUMABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED})


def _key(msg: Any) -> bytes:
    return bytes(msg.SerializeToString(deterministic=True))


class Deduplicator:
    """Remembers the last version delivered per identity and drops repeats."""

    def __init__(self) -> None:
        self.last: dict[Any, bytes] = {}
        self.sentinel_sent = False
        self.log_positions: dict[bytes, int] = {}
        self.stream_pos: dict[bytes, int] = {}

    def _fresh(self, identity: Any, item: Any) -> bool:
        version = _key(item)
        if self.last.get(identity) == version:
            return False
        self.last[identity] = version
        return True

    def filter(self, msg: Any) -> Any | None:
        """``msg`` with already-delivered items removed, or None when nothing new is left."""
        name = msg.DESCRIPTOR.full_name
        if name in ("flyteidl2.workflow.WatchResponse", "flyteidl2.actions.WatchForUpdatesResponse"):
            which = msg.WhichOneof("message")
            if which == "control_message":
                if self.sentinel_sent:
                    return None
                self.sentinel_sent = True
                return msg
            if which == "action_update":
                return msg if self._fresh(("action", _key(msg.action_update.action_id)), msg.action_update) else None
            return msg
        if name in ("flyteidl2.workflow.WatchRunDetailsResponse",):
            return msg if self._fresh(("run", _key(msg.details.action.id)), msg.details) else None
        if name in ("flyteidl2.workflow.WatchActionDetailsResponse",):
            return msg if self._fresh(("action", _key(msg.details.id)), msg.details) else None
        if name == "flyteidl2.workflow.WatchRunsResponse":
            return self._repeated(msg, "runs", lambda r: ("action", _key(r.action.id)))
        if name == "flyteidl2.workflow.WatchActionsResponse":
            return self._repeated(msg, "enriched_actions", lambda a: ("action", _key(a.action.id)))
        if name == "flyteidl2.dataproxy.TailLogsResponse":
            return self._logs(msg)
        # Unknown stream: drop only exact repeats of a message already delivered.
        return msg if self._fresh(("msg", _key(msg)), msg) else None

    def _repeated(self, msg: Any, field: str, identity: Callable[[Any], Any]) -> Any | None:
        items = list(getattr(msg, field))
        fresh = [it for it in items if self._fresh(identity(it), it)]
        if not fresh:
            return None
        if len(fresh) == len(items):
            return msg
        out = type(msg)()
        out.CopyFrom(msg)
        out.ClearField(field)
        getattr(out, field).extend(fresh)
        return out

    def _logs(self, msg: Any) -> Any | None:
        # A TailLogs call starts from the first line: lines are identified by their position in the
        # stream per container, and positions below what was already delivered are skipped.
        out = type(msg)()
        for logs in msg.logs:
            cid = _key(logs.container)
            start = self.stream_pos.get(cid, 0)
            done = self.log_positions.get(cid, 0)
            lines = list(logs.lines)
            new = lines[max(0, done - start):]
            self.stream_pos[cid] = start + len(lines)
            self.log_positions[cid] = max(done, start + len(lines))
            if new:
                entry = out.logs.add()
                entry.container.CopyFrom(logs.container)
                entry.lines.extend(new)
        return out if out.logs else None

    def reset_stream(self) -> None:
        """A new stream begins (after a reconnect): log positions count from zero again."""
        self.stream_pos = {}


async def resumable(
    open_stream: Callable[[], Any],
    *,
    auth: Authenticator | None = None,
    max_reconnects: int | None = None,
    backoff_base: float = 0.1,
    backoff_cap: float = 2.0,
    on_reconnect: Callable[[int], Any] | None = None,
) -> AsyncIterator[Any]:
    """Iterate a server stream, reopening it after a disconnect and filtering repeats (see module doc)."""
    dedup = Deduplicator()
    failures = 0
    reconnects = 0
    reauthed = False  # a token refresh since the last message: a second refusal is final
    while True:
        dedup.reset_stream()
        call = open_stream()
        try:
            async for msg in call:
                failures = 0
                reauthed = False
                out = dedup.filter(msg)
                if out is not None:
                    yield out
            return
        except grpc.aio.AioRpcError as e:
            code = e.code()
            if code not in RESUMABLE or (code == grpc.StatusCode.UNAUTHENTICATED and auth is None):
                raise
            if max_reconnects is not None and reconnects >= max_reconnects:
                raise AdminError(
                    f"Watch gave up after {reconnects} reconnects: {code.name}: {e.details()}", code=code.name
                ) from None
            if code == grpc.StatusCode.UNAUTHENTICATED:
                assert auth is not None
                if reauthed:
                    raise  # a fresh token was refused too
                reauthed = True
                await auth.refresh(auth.current())
            else:
                await asyncio.sleep(backoff(failures, backoff_base, backoff_cap))
            failures += 1
            reconnects += 1
            if on_reconnect is not None:
                on_reconnect(reconnects)
        finally:
            call.cancel()
