"""The ``local`` runtime: runs a whole task tree in this process and records it under the runs directory."""

from __future__ import annotations

import secrets
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte._builtin.local.records import ActionRecord, RunRecord, runs_dir, write_actions
from flyte.errors import InvalidInputError
from flyte.runtime import Phase, RunHandle, RunOptions, Runtime

if TYPE_CHECKING:
    from flyte._task import TaskTemplate

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_run_name() -> str:
    return "r" + "".join(secrets.choice(_ALPHABET) for _ in range(9))


class ActionOutputs(tuple[Any, ...]):
    """A run's outputs: a tuple (``outputs[0]``), with ``named_outputs`` as a dict (``o0``, ``o1``...)."""

    named_outputs: dict[str, Any]

    def __new__(cls, values: tuple[Any, ...], names: list[str]) -> ActionOutputs:
        self = super().__new__(cls, values)
        self.named_outputs = dict(zip(names, values, strict=False))
        return self


class LocalRunHandle(RunHandle):
    def __init__(self, name: str, directory: Path, phase: Phase, outputs: ActionOutputs | None,
                 error: BaseException | None) -> None:
        self.name = name
        self.directory = directory
        self._phase = phase
        self._outputs = outputs
        self._error = error

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def url(self) -> str:
        return self.directory.as_uri()

    @property
    def error(self) -> BaseException | None:
        return self._error

    async def wait_async(self) -> None:
        return None

    async def outputs_async(self) -> tuple[Any, ...]:
        if self._error is not None:
            raise self._error
        assert self._outputs is not None
        return self._outputs


class LocalRuntime(Runtime):
    """Runs a task tree in this process. Subclasses may swap ``controller_class`` (see flyte-sandbox)."""

    name = "local"
    description = "runs tasks in this process (built in)"
    controller_class: Any = None  # default: flyte._builtin.local.controller.LocalController

    def make_controller(self, **kwargs: Any) -> Any:
        from flyte._builtin.local.controller import LocalController

        return (self.controller_class or LocalController)(**kwargs)

    async def submit(
        self,
        task: TaskTemplate[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: RunOptions,
    ) -> LocalRunHandle:

        if options.raw_data_path:
            from flyte.storage import check_writable_async, is_remote

            if is_remote(options.raw_data_path):
                # A missing plugin, bucket or credential shows up now, not after tasks have run.
                await check_writable_async(options.raw_data_path)
        base = Path(options.run_base_dir).expanduser() if options.run_base_dir else runs_dir()
        name = options.name or new_run_name()
        directory = base / name
        if options.name and directory.exists():
            # Re-running a named run (a nightly script) keeps the earlier record as <name>.<n>.
            n = 1
            while (base / f"{name}.{n}").exists():
                n += 1
            directory.rename(base / f"{name}.{n}")
        try:
            directory.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise InvalidInputError(f"A local run named '{name}' already exists in {base}") from None
        raw = options.raw_data_path or str(directory / "data")
        record = RunRecord(name=name, task=task.name, directory=directory, runtime=self.name)
        record.write()

        from flyte._run_env import applied_env

        controller = self.make_controller(
            run_name=name,
            raw_data_path=raw,
            run_base_dir=str(directory),
            max_concurrency=options.max_action_concurrency,
            overwrite_cache=options.overwrite_cache,
            disable_run_cache=options.disable_run_cache,
            custom_context=options.custom_context,
            on_event=options.on_event,
        )
        error: Exception | None = None
        try:
            try:
                with applied_env(options.env_vars):
                    value = await controller.run_root(task, args, kwargs)
            finally:
                controller.close()
        except InvalidInputError as e:
            if len(controller.actions) <= 1:
                # Bad input to the root task: nothing ran, leave nothing behind.
                shutil.rmtree(directory, ignore_errors=True)
                raise
            error = e
        except Exception as e:  # recorded, then handed to the caller through the handle
            error = e
        except BaseException as e:  # interrupted or cancelled: record it, then let it propagate
            _finish(record, controller.actions, Phase.ABORTED, str(e) or type(e).__name__)
            raise
        outputs = None if error is not None else _outputs(task, value)
        _finish(record, controller.actions, Phase.FAILED if error else Phase.SUCCEEDED,
                (str(error) or type(error).__name__) if error else None)
        return LocalRunHandle(name, directory, record.phase, outputs, error)


def _outputs(task: TaskTemplate[Any, Any], value: Any) -> ActionOutputs:
    names = list(task.interface.outputs)
    if not names:
        return ActionOutputs((None,), [])  # like the official SDK: outputs()[0] is None
    if len(names) == 1:
        return ActionOutputs((value,), names)
    return ActionOutputs(tuple(value), names)


def _finish(record: RunRecord, actions: list[ActionRecord], phase: Phase, error: str | None) -> None:
    """Write the action records (one transaction) and the final run.json."""
    record.phase = phase
    record.error = error
    record.end = time.time()
    counts: dict[str, int] = {}
    for a in actions:
        key = "cached" if a.cache_hit else a.phase.value.lower()
        counts[key] = counts.get(key, 0) + 1
    record.counts = counts
    write_actions(record.directory, actions)
    record.write()
