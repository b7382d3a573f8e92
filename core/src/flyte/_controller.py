"""The controller interface: what a task call inside a run is handed to."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte._task import TaskTemplate


class Controller(abc.ABC):
    """Executes task calls made inside a run (``await child(x)``)."""

    @abc.abstractmethod
    async def submit(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run ``task`` as a child action of the current one and return its (decoded) outputs."""

    @abc.abstractmethod
    def submit_sync(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Like :meth:`submit`, from a sync task body running on a worker thread."""
