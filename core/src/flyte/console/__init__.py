"""The web console: one small web UI over a run store (local run records, or a devbox's state).

``flyte console`` serves it for the local run records; the devbox mounts the same request handler
on its own port. Nothing here is imported by ``import flyte`` or ``flyte --help``.

Example::

    from flyte.console import ConsoleApp, LocalRunStore

    app = ConsoleApp(LocalRunStore())
    response = app.handle("GET", "/api/runs", "limit=10", {}, b"")
    print(response.status, response.body[:80])

Modules: :mod:`flyte.console.store` (the store protocol and its errors), :mod:`flyte.console.local`
(local records), :mod:`flyte.console.api` (the request handler, framework-free),
:mod:`flyte.console.server` (the stdlib HTTP server of ``flyte console``), :mod:`flyte.console.asgi`
(the handler as an ASGI app), :mod:`flyte.console.timeline` (SVG/PNG timelines),
:mod:`flyte.console.link` (how ``flyte run`` finds a serving console).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte.console.api import ConsoleApp, Response
    from flyte.console.local import LocalRunStore
    from flyte.console.store import Forbidden, NotFound, RunStore

_LAZY = {
    "ConsoleApp": "flyte.console.api",
    "Response": "flyte.console.api",
    "LocalRunStore": "flyte.console.local",
    "RunStore": "flyte.console.store",
    "NotFound": "flyte.console.store",
    "Forbidden": "flyte.console.store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flyte.console' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["ConsoleApp", "Forbidden", "LocalRunStore", "NotFound", "Response", "RunStore"]
