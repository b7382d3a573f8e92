"""What is known about the code that is running now: which run, which action, where data goes.

One :class:`contextvars.ContextVar` holds the current :class:`TaskContext`; it is
``None`` outside any run, where calling a task is a plain function call.
"""

from __future__ import annotations

import contextvars
import os
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from flyte.storage import data_access as _data_access
from flyte.storage.data_access import DataAccess

if TYPE_CHECKING:
    from flyte._controller import Controller
    from flyte.report import Report


@dataclass(frozen=True)
class ActionID:
    """Identifies one action (a task invocation) inside a run."""

    name: str
    run_name: str
    project: str | None = None
    domain: str | None = None


class RawDataPath(str):
    """Where a run writes data: a ``str`` (for ``os.path.join`` and friends) with the official SDK's API.

    ``ctx.raw_data_path.path`` and ``ctx.raw_data_path.get_random_remote_path("x.csv")`` both work.
    """

    @property
    def path(self) -> str:
        return str(self)

    def get_random_remote_path(self, file_name: str | None = None) -> str:
        base = str(self).rstrip("/") + "/" + uuid.uuid4().hex
        return base + "/" + file_name if file_name else base


def _env_int(key: str) -> int | None:
    v = os.environ.get(key)
    return int(v) if v is not None else None


@dataclass(frozen=True)
class GroupData:
    """The innermost ``flyte.group`` a task was called in."""

    name: str


@dataclass(frozen=True)
class TaskContext:
    """What a running task can learn about itself (returned by :func:`flyte.ctx`).

    ``data_access`` is how File/Dir and large values reach the run's raw data; the runtime
    places it here (by default a :class:`~flyte.storage.data_access.DataAccess` writing under
    ``raw_data_path``). The type engine finds it through :func:`flyte.storage.data_access.current`.
    """

    action: ActionID
    raw_data_path: RawDataPath
    run_base_dir: str
    mode: str = "local"
    task_name: str = ""
    attempt: int = 0
    group: tuple[str, ...] = ()
    env_vars: dict[str, str] = field(default_factory=dict)
    custom_context: dict[str, str] = field(default_factory=dict)
    controller: Controller | None = field(default=None, repr=False, compare=False)
    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    version: str = "local"
    data_access: DataAccess | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.data_access is None and self.raw_data_path:
            object.__setattr__(self, "data_access", DataAccess(self.raw_data_path, scope=self.action.name))

    @property
    def run_name(self) -> str:
        return self.action.run_name

    @property
    def output_path(self) -> str:
        """Where this action's outputs are recorded (locally: the run's directory)."""
        return self.run_base_dir

    @property
    def group_data(self) -> GroupData | None:
        return GroupData(self.group[-1]) if self.group else None

    @property
    def disable_run_cache(self) -> bool:
        controller = self.controller
        return bool(getattr(controller, "disable_run_cache", False))

    # -- what else the official SDK's TaskContext offers ----------------------------------

    @property
    def run_start_time(self) -> datetime:
        """When the run started (UTC)."""
        started = getattr(self.controller, "run_start_time", None)
        if started is None:
            started = self.data.setdefault("run_start_time", datetime.now(UTC))
        return started

    @property
    def task_action(self) -> ActionID:
        """The action of the task running now (the same as ``action``: traces are not actions here)."""
        return self.action

    @property
    def input_path(self) -> str | None:
        """Where the inputs were read from: ``None`` in process (they are passed in memory)."""
        return None

    @property
    def report(self) -> Report:
        """This action's report (:mod:`flyte.report`)."""
        from flyte.report._report import current_report  # in-function: flyte.report._report imports this module

        if _current.get() is self:
            return current_report()
        token = _current.set(self)
        try:
            return current_report()
        finally:
            _current.reset(token)

    # The official SDK's fields that have one value in process.
    interactive_mode: ClassVar[bool] = False
    in_driver_literal_conversion: ClassVar[bool] = False
    code_bundle: ClassVar[None] = None
    compiled_image_cache: ClassVar[None] = None

    def is_in_cluster(self) -> bool:
        return self.mode == "remote"

    @property
    def attempt_number(self) -> int:
        """Which attempt of this action is running: 0 for the first, 1 for the first retry, ..."""
        return self.attempt

    # Distributed-training coordinates, read from the variables a launcher (torchrun, a JobSet) sets, as the
    # official SDK does: None when unset, as in a plain local run.
    @property
    def rank(self) -> int | None:
        return _env_int("RANK")

    @property
    def world_size(self) -> int | None:
        return _env_int("WORLD_SIZE")

    @property
    def local_rank(self) -> int | None:
        return _env_int("LOCAL_RANK")

    @property
    def local_world_size(self) -> int | None:
        return _env_int("LOCAL_WORLD_SIZE")

    @property
    def node_rank(self) -> int | None:
        return _env_int("NODE_RANK")

    @property
    def nnodes(self) -> int | None:
        return _env_int("NNODES")

    @property
    def master_addr(self) -> str | None:
        return os.environ.get("MASTER_ADDR")

    @property
    def master_port(self) -> int | None:
        return _env_int("MASTER_PORT")

    @property
    def restart_attempt(self) -> int | None:
        """How often a JobSet restarted the whole pod set (``JOBSET_RESTART_ATTEMPT``); None outside one."""
        return _env_int("JOBSET_RESTART_ATTEMPT")

    def __getitem__(self, key: str) -> Any:
        return self.data.get(key)

    @property
    def checkpoint(self) -> Any:
        from flyte._compat import missing  # the table of official names we lack: only when one is asked for

        raise missing("flyte.ctx()", "checkpoint")

    @property
    def checkpoint_paths(self) -> Any:
        from flyte._compat import missing  # the table of official names we lack: only when one is asked for

        raise missing("flyte.ctx()", "checkpoint_paths")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"flyte.ctx() has no attribute {name!r}; what it offers is listed under "
                             "'flyte.ctx()' in docs/compatibility.md")

    def replace(self, **changes: Any) -> TaskContext:
        if "raw_data_path" in changes and "data_access" not in changes:
            changes["data_access"] = None  # follows the new raw data path
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


def _current_data_access() -> DataAccess | None:
    tc = _current.get()
    return tc.data_access if tc is not None else None


def _current_action_name() -> str | None:
    tc = _current.get()
    return tc.action.name if tc is not None else None


_data_access.set_provider(_current_data_access, scope=_current_action_name)


def raw_data_path() -> str | None:
    """Where File/Dir outputs and offloaded values go in the current run (``None`` outside a run)."""
    tc = _current.get()
    return tc.raw_data_path if tc is not None else None
