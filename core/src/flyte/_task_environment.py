"""TaskEnvironment: the settings a group of tasks share, and the ``@env.task`` decorator."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from flyte._cache import CacheRequest
from flyte._resources import Resources
from flyte._retry import RetryStrategy
from flyte._secret import SecretRequest, normalize_secrets
from flyte._task import TaskTemplate
from flyte._timeout import TimeoutType
from flyte.errors import TaskDefinitionError

if TYPE_CHECKING:
    from flyte._image import Image

F = TypeVar("F", bound=Callable[..., Any])

# Options of the official SDK's @env.task that have no effect on a local run; accepted so its code runs.
_TASK_OPTIONS_ACCEPTED = frozenset(
    {"service_account", "triggers", "links", "task_resolver", "entrypoint", "produces_artifacts"}
)
_TASK_OPTIONS_ALL = frozenset(
    {"short_name", "cache", "retries", "timeout", "docs", "pod_template", "report", "interruptible",
     "max_inline_io_bytes", "queue", "sandbox"}
) | _TASK_OPTIONS_ACCEPTED


def _check_options(
    where: str, given: dict[str, Any], accepted: frozenset[str], known: frozenset[str] = _TASK_OPTIONS_ALL
) -> None:
    """Unknown keyword options are errors (a typo must not silently become a default)."""
    for key in given:
        if key not in accepted:
            hint = difflib.get_close_matches(key, sorted(known), n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise TaskDefinitionError(f"{where}: unexpected option '{key}'{suggestion}")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$", re.IGNORECASE)


@dataclass
class TaskEnvironment:
    """Settings shared by the tasks declared with ``@env.task``: image, resources, secrets, env vars, cache.

    Example::

        env = flyte.TaskEnvironment(name="hello", resources=flyte.Resources(cpu=1, memory="1Gi"))

        @env.task
        async def say(name: str) -> str:
            return f"hello {name}"
    """

    name: str
    depends_on: list[TaskEnvironment] = field(default_factory=list)
    pod_template: Any = None
    description: str | None = None
    secrets: SecretRequest | None = None
    env_vars: dict[str, str] | None = None
    resources: Resources | None = None
    interruptible: bool = False
    image: str | Image | Literal["auto"] | None = "auto"
    include: tuple[str, ...] = ()
    service_account: str | None = None
    cache: CacheRequest = "disable"
    reusable: Any = None
    plugin_config: Any = None
    queue: str | None = None
    sandbox: Any = None  # sandbox limits/grants for the flyte-sandbox runtime (flyte_sandbox.Sandbox)
    _tasks: dict[str, TaskTemplate[..., Any]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(
                f"TaskEnvironment name {self.name!r} is invalid: use letters, digits, '_' and '-' "
                "(starting and ending with a letter or digit)"
            )
        self._secrets = normalize_secrets(self.secrets)
        if self.env_vars is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.env_vars.items()
        ):
            raise TypeError(f"TaskEnvironment {self.name!r}: env_vars must map str to str")
        if self.resources is not None and not isinstance(self.resources, Resources):
            raise TypeError(f"TaskEnvironment {self.name!r}: resources must be flyte.Resources")
        for dep in self.depends_on:
            if not isinstance(dep, TaskEnvironment):
                raise TypeError(f"TaskEnvironment {self.name!r}: depends_on takes TaskEnvironments, got {dep!r}")

    @property
    def tasks(self) -> dict[str, TaskTemplate[..., Any]]:
        return dict(self._tasks)

    @classmethod
    def from_task(cls, name: str, *tasks: TaskTemplate[..., Any],
                  depends_on: list[TaskEnvironment] | None = None) -> TaskEnvironment:
        """An environment holding tasks declared elsewhere (the official SDK's ``TaskEnvironment.from_task``),
        for ``depends_on=`` of other environments. The tasks keep their own settings."""
        env = cls(name=name, depends_on=list(depends_on or []))
        for t in tasks:
            if not isinstance(t, TaskTemplate):
                raise TypeError(f"TaskEnvironment.from_task({name!r}): {t!r} is not a task")
            env._tasks[t.name] = t
        return env

    def add_dependency(self, *env: TaskEnvironment) -> None:
        for e in env:
            if e is self:
                raise ValueError(f"TaskEnvironment {self.name!r} cannot depend on itself")
            self.depends_on.append(e)

    def clone_with(self, name: str, **kwargs: Any) -> TaskEnvironment:
        return replace(self, name=name, **kwargs)

    @overload
    def task(self, _func: F) -> TaskTemplate[..., Any]: ...

    @overload
    def task(
        self,
        _func: None = None,
        *,
        short_name: str | None = None,
        cache: CacheRequest | None = None,
        retries: int | RetryStrategy = 0,
        timeout: TimeoutType = 0,
        docs: Any = None,
        pod_template: Any = None,
        report: bool = False,
        interruptible: bool | None = None,
        max_inline_io_bytes: int | None = None,
        queue: str | None = None,
        sandbox: Any = None,
        **kwargs: Any,
    ) -> Callable[[F], TaskTemplate[..., Any]]: ...

    def task(
        self,
        _func: F | None = None,
        *,
        short_name: str | None = None,
        cache: CacheRequest | None = None,
        retries: int | RetryStrategy = 0,
        timeout: TimeoutType = 0,
        docs: Any = None,
        pod_template: Any = None,
        report: bool = False,
        interruptible: bool | None = None,
        max_inline_io_bytes: int | None = None,
        queue: str | None = None,
        sandbox: Any = None,
        **kwargs: Any,
    ) -> TaskTemplate[..., Any] | Callable[[F], TaskTemplate[..., Any]]:
        """Declare a task in this environment. Works with and without arguments.

        Example::

            @env.task(retries=3, timeout=60, cache="auto")
            async def fetch(url: str) -> str: ...
        """
        _check_options(f"@{self.name}.task", kwargs, _TASK_OPTIONS_ACCEPTED)

        def decorator(func: F) -> TaskTemplate[..., Any]:
            t: TaskTemplate[..., Any] = TaskTemplate.from_function(
                func,
                env=self,
                short_name=short_name,
                cache=cache if cache is not None else self.cache,
                retries=retries,
                timeout=timeout,
                queue=queue,
                sandbox=sandbox if sandbox is not None else self.sandbox,
                docs=docs,
                report=report,
                pod_template=pod_template,
            )
            self._tasks[t.name] = t  # redefined (notebook, reload): the last one wins, as in Python
            return t

        if _func is not None:
            if not callable(_func):
                raise TypeError(f"@{self.name}.task must decorate a function, got {_func!r}")
            return decorator(_func)
        return decorator
