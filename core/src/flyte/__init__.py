"""flyte-core: author Flyte 2 tasks in plain Python, run them locally or on a cluster.

    import flyte

    env = flyte.TaskEnvironment(name="hello")

    @env.task
    async def say(name: str) -> str:
        return f"hello {name}"

    if __name__ == "__main__":
        print(flyte.run(say, name="world").outputs()[0])

Importing ``flyte`` loads almost nothing: every name below is resolved on first use.
"""

from __future__ import annotations

# Not `from typing import TYPE_CHECKING`: importing typing would double the cost of `import flyte`.
TYPE_CHECKING = False

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "TaskEnvironment": "flyte._task_environment",
    "TaskTemplate": "flyte._task",
    "Resources": "flyte._resources",
    "Secret": "flyte._secret",
    "SecretRequest": "flyte._secret",
    "Cache": "flyte._cache",
    "CacheRequest": "flyte._cache",
    "RetryStrategy": "flyte._retry",
    "Backoff": "flyte._retry",
    "Timeout": "flyte._timeout",
    "TimeoutType": "flyte._timeout",
    "Image": "flyte._image",
    "PodTemplate": "flyte._pod",
    "Device": "flyte._resources",
    "GPU": "flyte._resources",
    "TPU": "flyte._resources",
    "ReusePolicy": "flyte._reusable",
    "trace": "flyte._trace",
    "custom_context": "flyte._custom_context",
    "get_custom_context": "flyte._custom_context",
    "ctx": "flyte._context",
    "group": "flyte._group",
    "map": "flyte._map",
    "init": "flyte._initialize",
    "init_from_config": "flyte._initialize",
    "current_project": "flyte._initialize",
    "current_domain": "flyte._initialize",
    "run": "flyte._run",
    "with_runcontext": "flyte._run",
    "Run": "flyte._run",
    "AsyncFunctionTaskTemplate": "flyte._task",
    "logger": "flyte._user_log",
    "system_logger": "flyte._user_log",
}
_LAZY_MODULES = {"io", "types", "errors", "storage", "plugins", "config", "testing", "runtime", "report", "durable",
                 "syncify", "git", "models"}

if TYPE_CHECKING:
    import logging
    from typing import Any

    from flyte import config, durable, errors, git, io, models, plugins, report, runtime, storage, syncify, types
    from flyte._cache import Cache, CacheRequest
    from flyte._context import ctx
    from flyte._custom_context import custom_context, get_custom_context
    from flyte._group import group
    from flyte._image import Image
    from flyte._initialize import current_domain, current_project, init, init_from_config
    from flyte._map import map
    from flyte._pod import PodTemplate
    from flyte._resources import GPU, TPU, Device, Resources
    from flyte._retry import Backoff, RetryStrategy
    from flyte._reusable import ReusePolicy
    from flyte._run import Run, run, with_runcontext
    from flyte._secret import Secret, SecretRequest
    from flyte._task import AsyncFunctionTaskTemplate, TaskTemplate
    from flyte._task_environment import TaskEnvironment
    from flyte._timeout import Timeout, TimeoutType
    from flyte._trace import trace

    logger: logging.Logger
    system_logger: logging.Logger


def __getattr__(name: str) -> Any:
    import importlib

    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif name in _LAZY_MODULES:
        value = importlib.import_module(f"flyte.{name}")
    elif name.startswith("__"):
        raise AttributeError(f"module 'flyte' has no attribute {name!r}")
    else:
        from flyte._lazy import is_submodule

        if is_submodule("flyte", name):  # `from flyte import submodule`: not an official name we lack
            raise AttributeError(f"module 'flyte' has no attribute {name!r}")
        from flyte._compat import missing

        raise missing("flyte", name)  # an official SDK name we lack: one line pointing at docs/compatibility.md
    globals()[name] = value
    return value


class _OfficialModules:
    """Consulted last by ``import``: an official SDK module flyte-core lacks is one clear error."""

    @staticmethod
    def find_spec(fullname: str, path: object = None, target: object = None) -> None:
        if fullname.startswith("flyte.") and fullname.count(".") == 1:
            from flyte._compat import UNSUPPORTED_MODULES, missing

            if fullname in UNSUPPORTED_MODULES:
                raise missing("flyte", fullname[6:])


_sys = __import__("sys")
_sys.meta_path.append(_OfficialModules)


def __dir__() -> list[str]:
    return sorted([*_LAZY, *_LAZY_MODULES, "__version__", "version"])


def version() -> str:
    return __version__


__all__ = [
    "GPU",
    "TPU",
    "AsyncFunctionTaskTemplate",
    "Backoff",
    "Cache",
    "CacheRequest",
    "Device",
    "Image",
    "PodTemplate",
    "Resources",
    "RetryStrategy",
    "ReusePolicy",
    "Run",
    "Secret",
    "SecretRequest",
    "TaskEnvironment",
    "TaskTemplate",
    "Timeout",
    "TimeoutType",
    "__version__",
    "config",
    "ctx",
    "current_domain",
    "current_project",
    "custom_context",
    "durable",
    "errors",
    "get_custom_context",
    "git",
    "group",
    "init",
    "init_from_config",
    "io",
    "logger",
    "map",
    "models",
    "plugins",
    "report",
    "run",
    "runtime",
    "storage",
    "syncify",
    "system_logger",
    "trace",
    "types",
    "version",
    "with_runcontext",
]
