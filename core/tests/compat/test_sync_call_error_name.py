"""`except flyte.errors.SyncTaskCallInAsyncContextError` (the official SDK's name) catches what flyte-core raises."""

from pathlib import Path

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="sync_call_name")


@env.task
def count(text: str) -> int:
    return len(text.split())


@env.task
async def caller(text: str) -> str:
    try:
        count(text)  # a sync task from async code without .aio
    except flyte.errors.SyncTaskCallInAsyncContextError as e:
        return f"caught: {'count.aio' in str(e)}"
    return "not raised"


def test_official_name_catches_the_error(tmp_path: Path) -> None:
    assert flyte.with_runcontext(run_base_dir=str(tmp_path)).run(caller, text="a b").outputs()[0] == "caught: True"


def test_same_class_as_raised() -> None:
    from flyte._task import SyncTaskCallInAsyncContextError

    assert flyte.errors.SyncTaskCallInAsyncContextError is SyncTaskCallInAsyncContextError
    assert issubclass(SyncTaskCallInAsyncContextError, flyte.errors.TaskDefinitionError)
