"""Exceptions a user can meet. Every message says what was wrong, where, and what to do."""

from __future__ import annotations


class FlyteError(Exception):
    """Base class of every error raised by flyte."""


# -- plugins -----------------------------------------------------------------------


class PluginError(FlyteError):
    """A plugin is misconfigured (duplicate name, invalid hook)."""


class PluginLoadError(PluginError):
    """A plugin failed to import or its hook raised, and FLYTE_PLUGINS_STRICT is set."""


class UnknownPluginError(PluginError, LookupError):
    """Nothing is registered under the requested name."""


class PluginWarning(RuntimeWarning):
    """A plugin was skipped (failed to import, or its hook raised)."""


# -- authoring ---------------------------------------------------------------------


class TaskDefinitionError(FlyteError, TypeError):
    """A task cannot be defined as written (unsupported type, bad option)."""


class SyncTaskCallInAsyncContextError(TaskDefinitionError):
    """A sync task was called without ``.aio`` from async code, which would block the event loop.

    The official SDK's name; there it is a RuntimeUserError, here a TaskDefinitionError (a TypeError).
    """


class ConfigError(FlyteError, ValueError):
    """The configuration file or an environment variable is invalid."""


# -- types -------------------------------------------------------------------------


class TypeTransformerError(FlyteError, TypeError):
    """A value could not be converted to or from a flyteidl2 Literal."""


# -- running -----------------------------------------------------------------------


class RuntimeUserError(FlyteError, RuntimeError):
    """A task raised. ``code`` names the error kind, ``task`` the failing task."""

    def __init__(self, code: str, message: str, task: str | None = None, action: str | None = None) -> None:
        self.code = code
        self.task = task
        self.action = action
        where = f"task '{task}'" + (f" (action {action})" if action else "") if task else ""
        super().__init__(f"{where} failed: {message}" if where else message)


class TaskTimedoutError(RuntimeUserError, TimeoutError):
    """A task ran past its timeout.

    Runtimes build it with :meth:`after` so every runtime words it the same way.
    """

    @classmethod
    def after(cls, seconds: float, *, task: str, action: str | None = None) -> TaskTimedoutError:
        """The error for an attempt of ``task`` that ran longer than ``seconds``."""
        return cls("TaskTimedOut", f"timed out after {seconds:g}s (timeout={seconds:g})", task=task, action=action)


TaskTimeoutError = TaskTimedoutError  # the official SDK's name


class MaxRuntimeExceededError(TaskTimedoutError):
    """An attempt ran longer than ``flyte.Timeout.max_runtime`` (a bare ``timeout=`` is that too)."""


class MaxQueuedTimeExceededError(TaskTimedoutError):
    """An attempt waited longer than ``flyte.Timeout.max_queued_time`` to start (for a concurrency slot)."""

    @classmethod
    def after(cls, seconds: float, *, task: str, action: str | None = None) -> TaskTimedoutError:
        return cls("MaxQueuedTimeExceeded", f"waited {seconds:g}s to start without getting to run "
                   f"(max_queued_time={seconds:g})", task=task, action=action)


class DeadlineExceededError(TaskTimedoutError):
    """An action did not finish within ``flyte.Timeout.deadline``, counted across all its attempts."""

    @classmethod
    def after(cls, seconds: float, *, task: str, action: str | None = None) -> TaskTimedoutError:
        return cls("DeadlineExceeded", f"did not finish within its deadline of {seconds:g}s (all attempts "
                   f"together; deadline={seconds:g}); not retried", task=task, action=action)


class NonRecoverableError(RuntimeUserError):
    """Raise from a task to fail it at once: it is not retried, whatever ``retries`` says.

    Example::

        if not path.endswith(".csv"):
            raise flyte.errors.NonRecoverableError("BadInput", f"{path} is not a CSV file")
    """

    def __init__(self, code: str = "NonRecoverable", message: str = "", task: str | None = None,
                 action: str | None = None) -> None:
        super().__init__(code, message or code, task=task, action=action)


class RunAbortedError(FlyteError):
    """The run (or an action of it) was aborted before it finished."""


class PickleWarning(RuntimeWarning):
    """A type without a transformer travels pickled (``types.pickle: error`` makes it an error)."""


class EnvironmentIsolationWarning(RuntimeWarning):
    """Two environments set the same variable differently while their tasks ran at the same time.

    Python code in each task still sees its own value (``os.environ``, ``os.getenv``, subprocesses);
    C code reading the process environment, ``os.system`` and ``os.exec*`` cannot be isolated in one
    process. See docs/architecture.md (per-task environment).
    """


class InvalidInputError(FlyteError, ValueError):
    """An input given to a run is missing, unknown or of the wrong type."""


class SandboxError(FlyteError):
    """The sandbox could not run a task, or the task hit a sandbox limit."""


# -- compatibility -----------------------------------------------------------------


class NotSupportedError(FlyteError, NotImplementedError):
    """A part of the official Flyte 2 SDK's API that flyte-core does not provide.

    Not an ``AttributeError`` on purpose: ``from flyte import X`` then shows this message instead
    of Python's generic "cannot import name".
    """

    @classmethod
    def api(cls, name: str, why: str = "") -> NotSupportedError:
        reason = f" ({why})" if why else ""
        return cls(f"{name} is part of the official Flyte SDK but is not supported by flyte-core{reason}; "
                   "see docs/compatibility.md for what is supported and the alternatives")


def __getattr__(name: str) -> object:
    if name.startswith("__"):
        raise AttributeError(name)  # import machinery probes (__path__...), before flyte._compat exists
    from flyte._compat import missing

    raise missing(__name__, name)  # the official SDK's error classes we lack: a clear NotSupportedError
