"""A bad max_action_concurrency is a one-line error naming the option, not asyncio's Semaphore message at run time."""

from pathlib import Path

import flyte
import pytest
from flyte.errors import InvalidInputError

env = flyte.TaskEnvironment(name="runcontext_validation")


@env.task
async def one(x: int) -> int:
    return x


@pytest.mark.parametrize("bad", [-1, 2.5, "4", True])
def test_bad_max_action_concurrency_is_refused_up_front(bad: object) -> None:
    with pytest.raises(InvalidInputError, match=r"max_action_concurrency=.*positive int"):
        flyte.with_runcontext(max_action_concurrency=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("ok", [None, 0, 1, 7])
def test_good_values_run(ok: int | None, tmp_path: Path) -> None:
    assert flyte.with_runcontext(max_action_concurrency=ok, run_base_dir=str(tmp_path)).run(one, x=3).outputs().o0 == 3


@pytest.mark.parametrize("bad", [{"X": 1}, {1: "a"}, ["X=1"]])
def test_bad_env_vars_are_refused_up_front(bad: object) -> None:
    with pytest.raises(InvalidInputError, match=r"env_vars=.*dict of str to str"):
        flyte.with_runcontext(env_vars=bad)  # type: ignore[arg-type]


def test_a_run_name_that_is_not_a_str_says_so(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="A run name is a str, got int 123"):
        flyte.with_runcontext(name=123, run_base_dir=str(tmp_path)).run(one, x=1)  # type: ignore[arg-type]
