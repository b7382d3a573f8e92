"""Action records: what a runtime keeps about each action of a run.

:class:`ActionRecord` is a plain dataclass the :class:`~flyte.runtime.InProcessController`
fills as an action runs (phase, attempts, times, error, cache hit) with its input and output
literals serialized once (``dict[str, bytes]`` of deterministic flyteidl2 ``Literal`` bytes;
the same bytes give the cache key). A runtime reads ``controller.actions`` when the run ends.
"""

from __future__ import annotations

from flyte._builtin.local.records import ActionRecord

__all__ = ["ActionRecord"]
