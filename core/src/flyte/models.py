"""The official SDK's ``flyte.models`` names that have a meaning here: the task context and its parts.

``flyte.ctx()`` returns a :class:`TaskContext`; type hints and ``isinstance`` checks written against
``flyte.models`` work unchanged. The other names of the official module are listed in
docs/compatibility.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyte._context import ActionID, GroupData, RawDataPath, TaskContext

if TYPE_CHECKING:
    from flyte.types.interface import NativeInterface


def __getattr__(name: str) -> Any:
    if name == "NativeInterface":
        from flyte.types.interface import NativeInterface

        return NativeInterface
    if name.startswith("__"):
        raise AttributeError(name)
    from flyte._compat import missing

    raise missing(__name__, name)


__all__ = ["ActionID", "GroupData", "NativeInterface", "RawDataPath", "TaskContext"]
