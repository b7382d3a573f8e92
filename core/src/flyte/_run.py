"""``flyte.run`` and ``flyte.with_runcontext``: start a run on the chosen runtime."""

from __future__ import annotations

import os
from typing import Any

from flyte import _initialize, config
from flyte._syncify import Syncified, syncmethod
from flyte._task import TaskTemplate
from flyte.errors import InvalidInputError, RunAbortedError, UnknownPluginError
from flyte.plugins.manager import get_plugin_manager
from flyte.runtime import ActionOutputs, Phase, RunHandle, RunOptions, Runtime


class _StoppableRun(Syncified[..., "Run"]):
    """``flyte.run(...)`` / ``Runner.run(...)``: the sync call stops on Ctrl-C (and SIGTERM) like the CLI.

    On the main thread with no running loop the run goes through the CLI's stopping machinery:
    Ctrl-C ends it within about a second, even when an async body holds the CPU, records it as
    ABORTED and raises KeyboardInterrupt; the caller's signal handlers are restored afterwards.
    Elsewhere it is the plain sync call.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Run:
        import asyncio
        import threading

        in_loop = True
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            in_loop = False
        if in_loop or threading.current_thread() is not threading.main_thread():
            return super().__call__(*args, **kwargs)
        from flyte._builtin.local.stopping import run_stoppable

        async def main() -> Run:
            return await self.aio(*args, **kwargs)

        return run_stoppable(main(), library=True)


class Run:
    """A run: ``name``, ``phase``, ``url``, ``error``; ``wait()``, ``outputs()``, ``abort()``.

    Every method also has an async form (``await run.outputs.aio()``). ``outputs()`` is addressable
    by position and by name (:class:`flyte.runtime.ActionOutputs`). ``wait()`` and ``outputs()``
    raise the run's error if it failed.

    Example::

        run = flyte.run(main, n=3)
        print(run.name, run.outputs()[0], run.outputs().o0)
    """

    def __init__(self, handle: RunHandle, runtime: str) -> None:
        self._handle = handle
        self.runtime = runtime

    @property
    def name(self) -> str:
        return self._handle.name

    @property
    def phase(self) -> Phase:
        return self._handle.phase

    @property
    def url(self) -> str:
        return self._handle.url

    @property
    def error(self) -> BaseException | None:
        """Why the run failed; ``None`` while it runs or when it succeeded."""
        return self._handle.error

    @property
    def handle(self) -> RunHandle:
        return self._handle

    @syncmethod
    async def wait(self, quiet: bool = True) -> None:
        """Wait until the run ends; raises its error if it failed (or was aborted)."""
        await self._handle.wait_async()
        self._raise_if_failed()

    @syncmethod
    async def outputs(self) -> ActionOutputs:
        """The outputs (``outputs()[0]``, ``outputs().o0``); waits, and raises the run's error if it failed."""
        out = await self._handle.outputs_async()
        if not isinstance(out, ActionOutputs):  # a plugin written against the older tuple contract
            out = ActionOutputs(tuple(out))
        return out

    @syncmethod
    async def abort(self, reason: str = "aborted by user") -> None:
        await self._handle.abort_async(reason)

    def _raise_if_failed(self) -> None:
        error = self._handle.error
        if error is not None:
            raise error
        if self._handle.phase in (Phase.ABORTED, Phase.FAILED, Phase.TIMED_OUT):
            raise RunAbortedError(f"Run {self.name} ended {self._handle.phase.value}")

    def __repr__(self) -> str:
        return f"<Run {self.name} {self.phase.value} runtime={self.runtime}>"


def default_mode() -> str:
    """The runtime runs use when none is named: ``flyte.init``/the config's choice, else ``local``."""
    cfg = _initialize.get_init_config()
    if cfg is not None and cfg.mode:
        return cfg.mode
    return "local"


def resolve_runtime(mode: str | None) -> tuple[str, type[Runtime]]:
    """The runtime named ``mode`` (default: :func:`default_mode`) and its class.

    A config naming an endpoint picks ``remote``; without a ``remote`` runtime installed that is
    one line saying what is configured and how to run locally instead.
    """
    explicit = mode is not None
    mode = mode or default_mode()
    if mode == "hybrid":
        mode = "remote"
    runtimes = get_plugin_manager().runtimes
    if mode == "remote" and runtimes.find("remote") is None:
        raise UnknownPluginError(_no_remote_message(explicit))
    return mode, runtimes.get(mode)


def _no_remote_message(explicit: bool) -> str:
    cfg = _initialize.get_init_config()
    endpoint = cfg.endpoint if cfg is not None else None
    if explicit or not endpoint:
        what = "The 'remote' runtime was asked for"
    else:
        source = config.get_config().source
        where = f" in {source}" if source is not None else " (flyte.init(endpoint=...))"
        what = f"admin.endpoint is {endpoint}{where}"
    blocked = "remote" in {p.strip() for p in os.environ.get("FLYTE_DISABLE_PLUGINS", "").split(",")}
    why = "the 'remote' runtime is blocked by FLYTE_DISABLE_PLUGINS" if blocked else "no 'remote' runtime is installed"
    return (f"{what}, but {why}, so runs cannot go there; run locally with "
            "`flyte run --local ...` (or --runtime local), or flyte.with_runcontext(mode=\"local\") in code.")


class Runner:
    """What ``flyte.with_runcontext(...)`` returns: ``.run(task, ...)`` with those settings.

    ``run`` applies the failure policy (a failed in-process run raises its error); ``submit``
    returns the :class:`Run` whatever its outcome (the CLI uses it to report a failure by name).
    """

    def __init__(self, mode: str | None = None, **options: Any) -> None:
        self.mode = mode
        self.options = options
        self.run = _StoppableRun(self._run)

    def _runtime(self) -> tuple[str, Runtime, RunOptions]:
        mode, runtime_cls = resolve_runtime(self.mode)
        _check_run_options(self.options, runtime_cls)
        known = {f for f in RunOptions.__dataclass_fields__ if f != "extra"}
        opts = RunOptions(**{k: v for k, v in self.options.items() if k in known and v is not None})
        opts.extra = {k: v for k, v in self.options.items() if k not in known}
        return mode, runtime_cls(), opts

    async def submit(self, task: TaskTemplate[Any, Any], /, *args: Any, **kwargs: Any) -> Run:
        """Start ``task(*args, **kwargs)`` and return its :class:`Run` without raising for a failed run.

        Errors found before anything runs (bad inputs, an unknown runtime) are raised.
        """
        if not isinstance(task, TaskTemplate):
            if getattr(task, "deployed", False):  # a flyte.remote.Task: the control plane runs it by its id
                mode, runtime, opts = self._runtime()
                if not getattr(runtime, "runs_deployed_tasks", False):
                    raise TypeError(f"{task!r} is deployed on a control plane; the '{mode}' runtime cannot run it: "
                                    "flyte.init(endpoint=...) or flyte.with_runcontext(mode=\"remote\")")
                return Run(await runtime.submit(task, args, kwargs, opts), mode)
            raise TypeError(f"flyte.run() takes a task declared with @env.task, got {task!r}")
        from flyte._compat import check_program

        check_program(task)  # official SDK API we lack fails now, before any task runs
        from flyte.types._fallback import new_run

        new_run()  # pickled types warn once per run
        mode, runtime, opts = self._runtime()
        handle = await runtime.submit(task, args, kwargs, opts)
        return Run(handle, mode)

    async def _run(self, task: TaskTemplate[Any, Any], /, *args: Any, **kwargs: Any) -> Run:
        run = await self.submit(task, *args, **kwargs)
        # The same policy for every runtime: a run that has already ended in failure raises now (in-process
        # runtimes); a run still going elsewhere raises from wait()/outputs().
        if run.phase.terminal:
            run._raise_if_failed()
        return run


# Options of the official SDK's with_runcontext that change nothing locally; accepted so its code runs.
_RUNCONTEXT_ACCEPTED = frozenset({
    "service_account", "version", "copy_style", "dry_run", "copy_bundle_to", "interactive_mode", "run_start_time",
    "annotations", "interruptible", "log_level", "log_format", "user_log_level", "reset_root_logger", "queue",
    "notifications", "cache_lookup_scope", "preserve_original_types", "debug", "tracked", "tracked_strict",
})
_RUNCONTEXT_NAMED = frozenset({
    "mode", "name", "raw_data_path", "run_base_dir", "env_vars", "overwrite_cache", "disable_run_cache", "project",
    "domain", "labels", "max_action_concurrency", "custom_context",
})


def _check_run_options(options: dict[str, Any], runtime_cls: Any) -> None:
    """A misspelt option is an error, not a silent default. Runtimes may accept extra options."""
    accepted = (_RUNCONTEXT_ACCEPTED | _RUNCONTEXT_NAMED | (frozenset(RunOptions.__dataclass_fields__) - {"extra"})
                | frozenset(getattr(runtime_cls, "run_options", ())))
    unknown = sorted(set(options) - accepted)
    if unknown:
        import difflib

        key = unknown[0]
        hint = difflib.get_close_matches(key, sorted(accepted), n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise TypeError(
            f"flyte.with_runcontext() got an unexpected option '{key}'{suggestion} for the "
            f"'{runtime_cls.name}' runtime"
        )


def with_runcontext(
    mode: str | None = None,
    *,
    name: str | None = None,
    raw_data_path: str | None = None,
    run_base_dir: str | None = None,
    env_vars: dict[str, str] | None = None,
    overwrite_cache: bool = False,
    disable_run_cache: bool = False,
    project: str | None = None,
    domain: str | None = None,
    labels: dict[str, str] | None = None,
    max_action_concurrency: int | None = None,
    custom_context: dict[str, str] | None = None,
    **kwargs: Any,
) -> Runner:
    """Run settings for one run: ``flyte.with_runcontext(mode="local", name="nightly").run(task, x=1)``.

    ``mode`` names a runtime (``local``, ``sandbox``, ``remote``); unknown settings are
    passed to the runtime as ``RunOptions.extra``.
    """
    if env_vars is not None and not (
        isinstance(env_vars, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env_vars.items())
    ):
        raise InvalidInputError(f"flyte.with_runcontext(env_vars={env_vars!r}): give a dict of str to str")
    if max_action_concurrency is not None and (
        isinstance(max_action_concurrency, bool) or not isinstance(max_action_concurrency, int)
        or max_action_concurrency < 0
    ):
        raise InvalidInputError(
            f"flyte.with_runcontext(max_action_concurrency={max_action_concurrency!r}): give how many actions may "
            "run at once, a positive int (0 or None: the runtime's default)"
        )
    return Runner(
        mode,
        name=name,
        raw_data_path=raw_data_path,
        run_base_dir=run_base_dir,
        env_vars=env_vars or {},
        overwrite_cache=overwrite_cache,
        disable_run_cache=disable_run_cache,
        project=project,
        domain=domain,
        labels=labels or {},
        max_action_concurrency=max_action_concurrency,
        custom_context=dict(custom_context or {}),
        **kwargs,
    )


async def _run(task: TaskTemplate[Any, Any], /, *args: Any, **kwargs: Any) -> Run:
    return await Runner()._run(task, *args, **kwargs)


run = _StoppableRun(_run)
run.__doc__ = """Run a task and return its :class:`Run`.

Sync: ``flyte.run(t, x=1)``; async: ``await flyte.run.aio(t, x=1)``.
"""
