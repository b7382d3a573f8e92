"""``flyte.syncify``: one async function callable from sync code too, as in the official SDK.

Example::

    @flyte.syncify.syncify
    async def fetch(n: int) -> int: ...

    fetch(3)             # from sync code
    await fetch.aio(3)   # from async code
"""

from flyte._syncify import Syncified as Syncify
from flyte._syncify import syncify

__all__ = ["Syncify", "syncify"]
