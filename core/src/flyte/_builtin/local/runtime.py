"""The ``local`` runtime: runs a whole task tree in this process and records it under the runs directory.

All of it is the public :class:`flyte.runtime.InProcessRuntime` with in-process bodies; this module
names it ``local`` and keeps the older names importable.
"""

from __future__ import annotations

from flyte._builtin.local.records import new_run_name
from flyte.runtime import ActionOutputs
from flyte.runtime.inprocess import InProcessRunHandle, InProcessRuntime

LocalRunHandle = InProcessRunHandle


class LocalRuntime(InProcessRuntime):
    """Runs a task tree in this process (built in)."""

    name = "local"
    description = "runs tasks in this process (built in)"


__all__ = ["ActionOutputs", "LocalRunHandle", "LocalRuntime", "new_run_name"]
