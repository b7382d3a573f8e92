"""The controller interface: what a task call inside a run is handed to.

Public as :class:`flyte.runtime.Controller`; it sits here, below the execution layer, because
authoring code (a task's ``__call__``, ``flyte.map``) talks to it through ``flyte.ctx().controller``.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte._task import TaskTemplate


class Controller(abc.ABC):
    """How task calls made inside a run (``await child(x)``) are submitted.

    :class:`flyte.runtime.InProcessController` runs them in this process; the remote worker's
    controller hands them to the control plane. Either way the body that made the call does not
    know: it awaits the child's outputs.
    """

    @abc.abstractmethod
    async def submit(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run ``task`` as a child action of the current one and return its (decoded) outputs."""

    @abc.abstractmethod
    def submit_sync(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Like :meth:`submit`, from a sync task body running on a worker thread."""
