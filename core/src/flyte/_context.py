"""What is known about the code that is running now: which run, which action, where data goes.

One :class:`contextvars.ContextVar` holds the current :class:`TaskContext`; it is
``None`` outside any run, where calling a task is a plain function call.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte._controller import Controller


@dataclass(frozen=True)
class ActionID:
    """Identifies one action (a task invocation) inside a run."""

    name: str
    run_name: str
    project: str | None = None
    domain: str | None = None


@dataclass(frozen=True)
class TaskContext:
    """What a running task can learn about itself (returned by :func:`flyte.ctx`)."""

    action: ActionID
    raw_data_path: str
    run_base_dir: str
    mode: str = "local"
    task_name: str = ""
    attempt: int = 0
    group: tuple[str, ...] = ()
    env_vars: dict[str, str] = field(default_factory=dict)
    custom_context: dict[str, str] = field(default_factory=dict)
    controller: Controller | None = field(default=None, repr=False, compare=False)
    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def run_name(self) -> str:
        return self.action.run_name

    def replace(self, **changes: Any) -> TaskContext:
        return replace(self, **changes)


_current: contextvars.ContextVar[TaskContext | None] = contextvars.ContextVar("flyte_task_context", default=None)


def current() -> TaskContext | None:
    return _current.get()


def ctx() -> TaskContext | None:
    """The context of the task that is running now, or ``None`` outside any task.

    Example::

        @env.task
        async def where() -> str:
            return flyte.ctx().action.run_name
    """
    return _current.get()


def set_current(tc: TaskContext | None) -> contextvars.Token[TaskContext | None]:
    return _current.set(tc)


def reset_current(token: contextvars.Token[TaskContext | None]) -> None:
    _current.reset(token)


def raw_data_path() -> str | None:
    """Where File/Dir outputs and offloaded values go in the current run (``None`` outside a run)."""
    tc = _current.get()
    return tc.raw_data_path if tc is not None else None
