"""The runtime interface: something that takes a task and its inputs and runs it.

``local`` is built in; ``sandbox`` and ``remote`` come from plugins. A runtime
returns a :class:`RunHandle`, which is what ``flyte.run`` hands back to users.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from flyte._task import TaskTemplate


class Phase(enum.StrEnum):
    """Lifecycle of a run or action, in the order they happen."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED, Phase.ABORTED, Phase.TIMED_OUT)


@dataclass
class RunOptions:
    """What the caller of ``flyte.run`` / ``flyte run`` asked for, runtime-independent."""

    name: str | None = None
    raw_data_path: str | None = None
    run_base_dir: str | None = None
    env_vars: dict[str, str] = field(default_factory=dict)
    overwrite_cache: bool = False
    disable_run_cache: bool = False
    max_action_concurrency: int | None = None
    project: str | None = None
    domain: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    custom_context: dict[str, str] = field(default_factory=dict)
    # Called with (event, payload) as actions change state; used by the CLI's progress display.
    on_event: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class RunHandle(abc.ABC):
    """A run started by a runtime. ``outputs()`` returns a tuple of the task's outputs."""

    name: str

    @property
    @abc.abstractmethod
    def phase(self) -> Phase: ...

    @property
    def url(self) -> str:
        return ""

    @abc.abstractmethod
    async def wait_async(self) -> None:
        """Wait until the run reaches a terminal phase."""

    @abc.abstractmethod
    async def outputs_async(self) -> tuple[Any, ...]:
        """The outputs as a tuple; raises the run's error if it failed."""

    async def abort_async(self, reason: str = "aborted by user") -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot abort runs")

    def logs(self) -> str:
        return ""


class Runtime(abc.ABC):
    """Runs tasks. Subclasses set ``name`` and implement :meth:`submit`.

    Example::

        class EchoRuntime(Runtime):
            name = "echo"

            async def submit(self, task, args, kwargs, options):
                ...
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    # Extra keyword options of flyte.with_runcontext(...) this runtime understands (in RunOptions.extra).
    run_options: ClassVar[frozenset[str]] = frozenset()

    @abc.abstractmethod
    async def submit(
        self,
        task: TaskTemplate[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: RunOptions,
    ) -> RunHandle:
        """Start running ``task(*args, **kwargs)`` and return a handle on the run."""


__all__ = ["Phase", "RunHandle", "RunOptions", "Runtime"]
