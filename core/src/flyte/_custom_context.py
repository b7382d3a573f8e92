"""``flyte.custom_context``: key/value context handed down to the tasks a block starts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flyte import _context


def get_custom_context() -> dict[str, str]:
    """The custom context of the running task (``{}`` outside a run)."""
    tc = _context._current.get()
    return dict(tc.custom_context) if tc is not None else {}


@contextlib.contextmanager
def custom_context(**context: str) -> Iterator[None]:
    """Tasks started inside the block see ``context`` merged into their custom context.

    Example::

        with flyte.custom_context(team="ml"):
            await train(cfg)          # flyte.get_custom_context() == {"team": "ml", ...} in train
    """
    for k, v in context.items():
        if not isinstance(v, str):
            raise TypeError(f"flyte.custom_context: value of {k!r} must be a str, got {type(v).__name__}")
    tc = _context._current.get()
    if tc is None:
        yield
        return
    token = _context._current.set(tc.replace(custom_context={**tc.custom_context, **context}))
    try:
        yield
    finally:
        _context._current.reset(token)
