"""The execution seam: what a runtime plugin builds on.

``local`` is built in; ``sandbox`` and ``remote`` come from plugins. A runtime's
:meth:`Runtime.submit` returns a :class:`RunHandle`; ``flyte.run`` wraps it in a
:class:`flyte.Run`.

Submodules (imported on first use, so ``import flyte.runtime`` stays light):

- :mod:`flyte.runtime.controller`: :class:`Controller` (how a task call inside a run is
  submitted) and :class:`InProcessController` (runs child calls in this process: literals,
  cache, retries, timeouts, bounded concurrency), plus :func:`execute_body`.
- :mod:`flyte.runtime.body`: :class:`BodyRunner` (how one task body runs) and
  :class:`InProcessBodyRunner`.
- :mod:`flyte.runtime.inprocess`: :class:`InProcessRuntime`, a whole run in this process
  with its record; subclass it and override ``open_runner`` to run bodies elsewhere.
- :mod:`flyte.runtime.records`: :class:`ActionRecord`.

``TaskContext``, ``ActionID`` and ``RawDataPath`` (what ``flyte.ctx()`` returns) are re-exported
for runners and workers that build the context of the action they run.
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


class ActionOutputs(tuple[Any, ...]):
    """A run's outputs, by position (``outputs[0]``) and by name (``outputs.o0``, ``named_outputs``).

    Like the official SDK: a task without outputs gives ``(None,)``, one output ``(value,)``.

    Example::

        out = flyte.run(two_outputs, x=1).outputs()
        total, label = out
        assert out.o1 == label and out.named_outputs == {"o0": total, "o1": label}
    """

    named_outputs: dict[str, Any]

    def __new__(cls, values: tuple[Any, ...], names: list[str] | tuple[str, ...] | None = None) -> ActionOutputs:
        self = super().__new__(cls, values)
        names = list(names) if names else [f"o{i}" for i in range(len(values))]
        self.named_outputs = dict(zip(names, values, strict=False))
        return self

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["named_outputs"][name]
        except KeyError:
            pass
        # o0, o1, ... by position also when the outputs have other names (a NamedTuple's fields), as the
        # official SDK's ActionOutputs names them
        if name[:1] == "o" and name[1:].isdigit() and int(name[1:]) < len(self):
            return self[int(name[1:])]
        raise AttributeError(f"no output named {name!r}; outputs: {', '.join(self.named_outputs)}")

    def __repr__(self) -> str:
        """The official SDK's form: ``ActionOutputs(o0=1, o1="a")`` (strings quoted, other values as ``str``)."""
        parts = [f'{k}="{v}"' if isinstance(v, str) else f"{k}={v}" for k, v in zip(self.named_outputs, self,
                                                                                    strict=False)]
        return f"ActionOutputs({', '.join(parts)})"

    __str__ = __repr__

    @classmethod
    def of(cls, value: Any, names: list[str]) -> ActionOutputs:
        """The outputs of a task whose output names are ``names`` and that returned ``value``."""
        if not names:
            return cls((None,), ["o0"])
        if len(names) == 1:
            return cls((value,), names)
        return cls(tuple(value), names)


class RunHandle(abc.ABC):
    """A run started by a runtime: ``name``, ``phase``, ``url``, ``error``, wait, outputs, abort.

    Failure policy (the same for every runtime): a runtime that runs the task in this process
    returns a handle in a terminal phase, and ``flyte.run`` raises its ``error``; a runtime that
    runs elsewhere returns at once, and ``wait_async``/``outputs_async`` raise the run's error.
    """

    name: str
    #: Why the run failed (``None`` while running or when it succeeded).
    error: BaseException | None = None

    @property
    @abc.abstractmethod
    def phase(self) -> Phase: ...

    @property
    def url(self) -> str:
        return ""

    @abc.abstractmethod
    async def wait_async(self) -> None:
        """Wait until the run reaches a terminal phase; raises the run's error if it failed."""

    @abc.abstractmethod
    async def outputs_async(self) -> ActionOutputs:
        """The outputs (see :class:`ActionOutputs`); waits for the run and raises its error if it failed."""

    async def abort_async(self, reason: str = "aborted by user") -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot abort runs")

    # Sync forms of the above (``handle.wait()``; ``await handle.wait_async()`` in async code). _syncify is
    # imported when called: it imports asyncio, and `flyte plugins` imports this module to list runtimes.

    def wait(self) -> None:
        """Wait until the run ends; raises its error if it failed."""
        from flyte._syncify import run_sync

        run_sync(self.wait_async)

    def outputs(self) -> ActionOutputs:
        """The outputs by position and by name; raises the run's error if it failed."""
        from flyte._syncify import run_sync

        return run_sync(self.outputs_async)

    def abort(self, reason: str = "aborted by user") -> None:
        from flyte._syncify import run_sync

        run_sync(self.abort_async, reason)

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


_LAZY = {
    "Controller": "flyte.runtime.controller",
    "InProcessController": "flyte.runtime.controller",
    "execute_body": "flyte.runtime.controller",
    "BodyRunner": "flyte.runtime.body",
    "InProcessBodyRunner": "flyte.runtime.body",
    "InProcessRuntime": "flyte.runtime.inprocess",
    "InProcessRunHandle": "flyte.runtime.inprocess",
    "ActionRecord": "flyte.runtime.records",
    # What a body runner or a worker builds for the action it runs (flyte.ctx() returns a TaskContext).
    "TaskContext": "flyte._context",
    "ActionID": "flyte._context",
    "RawDataPath": "flyte._context",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flyte.runtime' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from flyte._context import ActionID, RawDataPath, TaskContext
    from flyte.runtime.body import BodyRunner, InProcessBodyRunner
    from flyte.runtime.controller import Controller, InProcessController, execute_body
    from flyte.runtime.inprocess import InProcessRunHandle, InProcessRuntime
    from flyte.runtime.records import ActionRecord

__all__ = [
    "ActionID",
    "ActionOutputs",
    "ActionRecord",
    "BodyRunner",
    "Controller",
    "InProcessBodyRunner",
    "InProcessController",
    "InProcessRunHandle",
    "InProcessRuntime",
    "Phase",
    "RawDataPath",
    "RunHandle",
    "RunOptions",
    "Runtime",
    "TaskContext",
    "execute_body",
]
