"""TaskTemplate: a Python function plus everything needed to run it as a Flyte task.

Everything that can be worked out once is worked out at decoration time (the
typed interface, the option normalization); calling a task does no introspection.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from flyte import _context
from flyte._cache import Cache, CacheRequest, normalize_cache
from flyte._retry import RetryStrategy, normalize_retries
from flyte._secret import Secret, SecretRequest, normalize_secrets
from flyte._timeout import TimeoutType, deadline_seconds, queued_seconds, timeout_seconds
from flyte.errors import SyncTaskCallInAsyncContextError, TaskDefinitionError
from flyte.types.interface import NativeInterface

if TYPE_CHECKING:
    from flyte._resources import Resources
    from flyte._task_environment import TaskEnvironment

P = ParamSpec("P")
R = TypeVar("R")


@dataclasses.dataclass(eq=False)
class TaskTemplate(Generic[P, R]):
    """A task: call it like the function it wraps.

    Outside a run it *is* that function. Inside a run each call becomes an
    action that the runtime executes: inputs and outputs go through the type
    engine, retries, timeouts and the cache apply.
    """

    func: Callable[..., Any]
    name: str
    short_name: str
    env: TaskEnvironment | None
    interface: Any  # flyte.types.interface.NativeInterface, built at decoration time
    is_async: bool
    cache: Cache
    retries: RetryStrategy
    timeout: float | None
    """``max_runtime`` of one attempt, in seconds (``None``: no limit)."""
    resources: Resources | None = None
    env_vars: dict[str, str] = dataclasses.field(default_factory=dict)
    secrets: tuple[Secret, ...] = ()
    queue: str | None = None
    sandbox: Any = None
    docs: Any = None
    report: bool = False
    max_queued_time: float | None = None
    """How long an attempt may wait to start, in seconds (``flyte.Timeout.max_queued_time``)."""
    deadline: float | None = None
    """How long the action may take across all attempts, in seconds (``flyte.Timeout.deadline``)."""
    pod_template: Any = None
    """``flyte.PodTemplate`` (or a cluster pod template's name) of the task's pod on Kubernetes; ignored locally."""
    _cache_version: str | None = dataclasses.field(default=None, repr=False)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_function(
        cls,
        func: Callable[..., Any],
        *,
        env: TaskEnvironment | None,
        short_name: str | None = None,
        cache: CacheRequest | None = None,
        retries: int | RetryStrategy = 0,
        timeout: TimeoutType = 0,
        queue: str | None = None,
        sandbox: Any = None,
        docs: Any = None,
        report: bool = False,
        pod_template: Any = None,
    ) -> TaskTemplate[P, R]:
        fname = getattr(func, "__name__", None)
        if fname is None or fname == "<lambda>":
            raise TaskDefinitionError("A task must be a named function (def ...), not a lambda or callable object")
        name = f"{env.name}.{fname}" if env is not None else fname
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TaskDefinitionError(f"Task '{name}': generator functions cannot be tasks; return a list instead")
        option = "retries"
        try:
            retries_n = normalize_retries(retries)
            option = "cache"
            cache_n = normalize_cache(cache)
            option = "timeout"
            timeout_n = timeout_seconds(timeout)
            queued_n, deadline_n = queued_seconds(timeout), deadline_seconds(timeout)
        except (TypeError, ValueError) as e:
            raise TaskDefinitionError(f"Task '{name}': invalid {option}: {e}") from None
        iface = NativeInterface.from_function(func, name)
        t = cls(
            func=func,
            name=name,
            short_name=short_name or fname,
            env=env,
            interface=iface,
            is_async=inspect.iscoroutinefunction(func),
            cache=cache_n,
            retries=retries_n,
            timeout=timeout_n,
            resources=env.resources if env is not None else None,
            env_vars=dict(env.env_vars or {}) if env is not None else {},
            secrets=env._secrets if env is not None else (),
            queue=queue,
            sandbox=sandbox,
            docs=docs,
            report=bool(report),
            max_queued_time=queued_n,
            deadline=deadline_n,
            pod_template=pod_template if pod_template is not None else (env.pod_template if env is not None else None),
        )
        functools.update_wrapper(t, func, assigned=("__module__", "__name__", "__qualname__", "__doc__"), updated=())
        return t

    # -- calling ------------------------------------------------------------------------

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        tc = _context._current.get()
        if tc is None or tc.controller is None:
            return self.func(*args, **kwargs)
        controller = tc.controller
        if self.is_async:
            return controller.submit(self, args, kwargs)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return controller.submit_sync(self, args, kwargs)
        raise SyncTaskCallInAsyncContextError(
            f"Sync task '{self.name}' was called from async code without awaiting; this would block the "
            f"event loop. Use `await {self.short_name}.aio(...)` instead."
        )

    async def aio(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Await any task, sync or async, from async code.

        Example::

            results = await asyncio.gather(*(legacy_sync_task.aio(x) for x in range(10)))
        """
        tc = _context._current.get()
        if tc is not None and tc.controller is not None:
            return await tc.controller.submit(self, args, kwargs)  # type: ignore[no-any-return,unused-ignore]
        out = self.func(*args, **kwargs)
        if inspect.isawaitable(out):
            out = await out
        return out  # type: ignore[no-any-return,unused-ignore]

    def forward(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Call the underlying function directly, bypassing the runtime."""
        return self.func(*args, **kwargs)

    def override(
        self,
        *,
        short_name: str | None = None,
        resources: Resources | None = None,
        cache: CacheRequest | None = None,
        retries: int | RetryStrategy | None = None,
        timeout: TimeoutType | None = None,
        env_vars: dict[str, str] | None = None,
        secrets: SecretRequest | None = None,
        queue: str | None = None,
        **kwargs: Any,
    ) -> TaskTemplate[P, R]:
        """A copy of this task with some settings changed, e.g. ``t.override(retries=5)(x)``."""
        changes: dict[str, Any] = {}
        try:
            if short_name is not None:
                changes["short_name"] = short_name
            if resources is not None:
                changes["resources"] = resources
            if cache is not None:
                changes["cache"] = normalize_cache(cache)
                changes["_cache_version"] = None
            if retries is not None:
                changes["retries"] = normalize_retries(retries)
            if timeout is not None:
                changes["timeout"] = timeout_seconds(timeout)
                changes["max_queued_time"] = queued_seconds(timeout)
                changes["deadline"] = deadline_seconds(timeout)
            if env_vars is not None:
                changes["env_vars"] = {**self.env_vars, **env_vars}
            if secrets is not None:
                changes["secrets"] = normalize_secrets(secrets)
            if queue is not None:
                changes["queue"] = queue
            if "sandbox" in kwargs:
                changes["sandbox"] = kwargs.pop("sandbox")
            if kwargs.get("pod_template") is not None:
                changes["pod_template"] = kwargs.pop("pod_template")
        except (TypeError, ValueError) as e:
            raise TaskDefinitionError(f"Task '{self.name}': override: {e}") from None
        unknown = set(kwargs) - {"reusable", "pod_template", "interruptible", "max_inline_io_bytes", "links",
                                 "service_account", "entrypoint", "produces_artifacts", "plugin_config"}
        if unknown:
            raise TaskDefinitionError(f"Task '{self.name}': override() got unknown option(s): {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    # -- derived ------------------------------------------------------------------------

    @property
    def cache_version(self) -> str:
        """The cache version: ``version_override``, or a hash of the function's source (computed once)."""
        v = self._cache_version
        if v is None:
            try:
                src = inspect.getsource(self.func)
            except (OSError, TypeError):
                code = self.func.__code__
                src = repr((code.co_code, code.co_consts, code.co_names))
            v = self._cache_version = self.cache.version_for(src)
        return v

    def __repr__(self) -> str:
        return f"<Task {self.name}>"


# The official SDK's name for the class of ``@env.task`` functions (sync ones too, here).
AsyncFunctionTaskTemplate = TaskTemplate

__all__ = ["AsyncFunctionTaskTemplate", "SyncTaskCallInAsyncContextError", "TaskTemplate"]
