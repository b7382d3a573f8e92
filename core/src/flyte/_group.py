"""``flyte.group``: label the actions started inside a block, for display."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flyte import _context


@contextlib.contextmanager
def group(name: str) -> Iterator[None]:
    """Actions started inside the block are grouped under ``name``.

    Example::

        with flyte.group("training"):
            models = await asyncio.gather(*(train(c) for c in configs))
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"flyte.group needs a non-empty name, got {name!r}")
    tc = _context._current.get()
    if tc is None:
        yield
        return
    token = _context._current.set(tc.replace(group=(*tc.group, name)))
    try:
        yield
    finally:
        _context._current.reset(token)
