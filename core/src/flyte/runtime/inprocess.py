"""A whole run in this process: :class:`InProcessRuntime`, the base of ``local`` and ``sandbox``.

It creates the run's directory and record, runs the task tree on an
:class:`~flyte.runtime.InProcessController` with the :class:`~flyte.runtime.BodyRunner` that
:meth:`InProcessRuntime.open_runner` returns, writes every action's record when the run ends,
and returns a handle in a terminal phase (``flyte.run`` raises its error if it failed).

A runtime that runs bodies somewhere else is a subclass overriding ``open_runner``::

    class TracingRuntime(InProcessRuntime):
        name = "tracing"

        async def open_runner(self, task, options):
            return TracingRunner()   # a BodyRunner subclass
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import flyte.storage as storage  # its functions load on first use: only a remote raw data path needs them
from flyte._builtin.local.records import abort_reason, new_run_name, open_run_record, scratch_data_dir
from flyte._builtin.local.stopping import stop_reason
from flyte.errors import InvalidInputError
from flyte.runtime import ActionOutputs, Phase, RunHandle, RunOptions, Runtime
from flyte.runtime.body import BodyRunner, InProcessBodyRunner
from flyte.runtime.controller import InProcessController

if TYPE_CHECKING:
    from flyte._task import TaskTemplate

class InProcessRunHandle(RunHandle):
    """A run that has finished in this process: its phase, outputs or error, and its record folder."""

    def __init__(self, name: str, directory: Path, phase: Phase, outputs: ActionOutputs | None,
                 error: BaseException | None, recorded: bool = True) -> None:
        self.name = name
        self.directory = directory
        self.recorded = recorded  # False when records are off (unwritable home): no record to point at
        self._phase = phase
        self._outputs = outputs
        self.error = error

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def url(self) -> str:
        return self.directory.as_uri() if self.recorded else ""

    async def wait_async(self) -> None:
        if self.error is not None:
            raise self.error

    async def outputs_async(self) -> ActionOutputs:
        if self.error is not None:
            raise self.error
        assert self._outputs is not None
        return self._outputs

    async def abort_async(self, reason: str = "aborted by user") -> None:
        """Nothing to do: the run ended before its handle was returned."""


class InProcessRuntime(Runtime):
    """Runs a task tree in this process and records it under the runs directory.

    Subclasses set ``name`` and may override :meth:`open_runner` to run bodies elsewhere.
    """

    name = "inprocess"
    description = "runs tasks in this process"

    async def open_runner(self, task: TaskTemplate[Any, Any], options: RunOptions) -> BodyRunner:
        """The body runner of one run (its ``close()`` is awaited when the run ends).

        Raise here to refuse a run before anything is recorded (e.g. a task the runner cannot run).
        """
        return InProcessBodyRunner()

    async def submit(
        self,
        task: TaskTemplate[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: RunOptions,
    ) -> InProcessRunHandle:
        if options.raw_data_path and storage.is_remote(options.raw_data_path):
            # A missing plugin, bucket or credential shows up now, not after tasks have run.
            await storage.check_writable_async(options.raw_data_path)
        runner = await self.open_runner(task, options)
        try:
            return await self._run(runner, task, args, kwargs, options)
        finally:
            await runner.close()

    async def _run(self, runner: BodyRunner, task: TaskTemplate[Any, Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any], options: RunOptions) -> InProcessRunHandle:
        # The record is claimed atomically (a taken name gets a suffix) and written while the run goes.
        recorder = open_run_record(task.name, options.name, options.run_base_dir, runtime=self.name)
        name = recorder.name or options.name or new_run_name()
        directory = recorder.directory or Path(scratch_data_dir())
        raw = options.raw_data_path or str(directory / "data")

        controller = InProcessController(
            runner,
            run_name=name,
            raw_data_path=raw,
            run_base_dir=str(directory),
            max_concurrency=options.max_action_concurrency,
            overwrite_cache=options.overwrite_cache,
            disable_run_cache=options.disable_run_cache,
            custom_context=options.custom_context,
            env_vars=options.env_vars,
            on_event=options.on_event,
        )
        recorder.start(controller.actions)  # commits what changed every 0.5 s (a timer on this loop)
        error: Exception | None = None
        try:
            try:
                value = await controller.run_root(task, args, kwargs)
            finally:
                controller.close()
        except InvalidInputError as e:
            if len(controller.actions) <= 1:
                # Bad input to the root task: nothing ran, leave nothing behind.
                recorder.discard()
                raise
            error = e
        except Exception as e:  # recorded, then handed to the caller through the handle
            error = e
        except BaseException as e:  # interrupted or cancelled: record it, then let it propagate
            recorder.finish(Phase.ABORTED, stop_reason() or abort_reason(e))
            raise
        outputs = None if error is not None else ActionOutputs.of(value, list(task.interface.outputs))
        phase = Phase.FAILED if error else Phase.SUCCEEDED
        recorder.finish(phase, (str(error) or type(error).__name__) if error else None)
        return InProcessRunHandle(name, directory, phase, outputs, error, recorded=recorder.enabled)


__all__ = ["InProcessRunHandle", "InProcessRuntime"]
