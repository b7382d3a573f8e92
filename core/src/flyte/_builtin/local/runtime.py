"""The ``local`` runtime: runs a whole task tree in this process and records it under the runs directory.

All of it is the public :class:`flyte.runtime.InProcessRuntime` with in-process bodies; this module
only names it ``local`` for the built-in plugin.
"""

from __future__ import annotations

from flyte.runtime.inprocess import InProcessRuntime


class LocalRuntime(InProcessRuntime):
    """Runs a task tree in this process (built in)."""

    name = "local"
    description = "runs tasks in this process (built in)"


__all__ = ["LocalRuntime"]
