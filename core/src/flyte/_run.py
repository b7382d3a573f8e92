"""``flyte.run`` and ``flyte.with_runcontext``: start a run on the chosen runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyte._syncify import syncify, syncmethod
from flyte.runtime import Phase, RunHandle, RunOptions

if TYPE_CHECKING:
    from flyte._task import TaskTemplate


class Run:
    """A run: its name, phase and outputs.

    Example::

        run = flyte.run(main, n=3)
        print(run.name, run.outputs()[0])
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
    def handle(self) -> RunHandle:
        return self._handle

    @syncmethod
    async def wait(self, quiet: bool = True) -> None:
        await self._handle.wait_async()

    @syncmethod
    async def outputs(self) -> tuple[Any, ...]:
        """The outputs as a tuple (``outputs()[0]`` is the first); raises the run's error if it failed."""
        return await self._handle.outputs_async()

    @syncmethod
    async def abort(self, reason: str = "aborted by user") -> None:
        await self._handle.abort_async(reason)

    def __repr__(self) -> str:
        return f"<Run {self.name} {self.phase.value} runtime={self.runtime}>"


def default_mode() -> str:
    from flyte._initialize import get_init_config

    cfg = get_init_config()
    if cfg is not None and cfg.mode:
        return cfg.mode
    return "local"


class Runner:
    """What ``flyte.with_runcontext(...)`` returns: ``.run(task, ...)`` with those settings."""

    def __init__(self, mode: str | None = None, **options: Any) -> None:
        self.mode = mode
        self.options = options
        self.run = syncify(self._run)

    async def _run(self, task: TaskTemplate[Any, Any], *args: Any, **kwargs: Any) -> Run:
        from flyte._task import TaskTemplate
        from flyte.plugins.manager import get_plugin_manager

        if not isinstance(task, TaskTemplate):
            raise TypeError(f"flyte.run() takes a task declared with @env.task, got {task!r}")
        mode = self.mode or default_mode()
        if mode == "hybrid":
            mode = "remote"
        runtime_cls = get_plugin_manager().runtimes.get(mode)
        _check_run_options(self.options, runtime_cls)
        runtime = runtime_cls()
        known = {f for f in RunOptions.__dataclass_fields__ if f != "extra"}
        opts = RunOptions(**{k: v for k, v in self.options.items() if k in known and v is not None})
        opts.extra = {k: v for k, v in self.options.items() if k not in known}
        handle = await runtime.submit(task, args, kwargs, opts)
        error = getattr(handle, "error", None)
        if mode == "local" and isinstance(error, BaseException):
            raise error
        return Run(handle, mode)


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
    accepted = _RUNCONTEXT_ACCEPTED | _RUNCONTEXT_NAMED | frozenset(getattr(runtime_cls, "run_options", ()))
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


async def _run(task: TaskTemplate[Any, Any], *args: Any, **kwargs: Any) -> Run:
    return await Runner()._run(task, *args, **kwargs)


run = syncify(_run)
run.__doc__ = """Run a task and return its :class:`Run`.

Sync: ``flyte.run(t, x=1)``; async: ``await flyte.run.aio(t, x=1)``.
"""
