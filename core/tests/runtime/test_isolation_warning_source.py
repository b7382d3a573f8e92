"""The per-task environment warning is about the run, not a line of flyte's own source."""

import asyncio
import warnings
from pathlib import Path

import flyte
from flyte.errors import EnvironmentIsolationWarning

ea = flyte.TaskEnvironment(name="iso_src_a", env_vars={"ISO_SRC_K": "A"})
eb = flyte.TaskEnvironment(name="iso_src_b", env_vars={"ISO_SRC_K": "B"})
top = flyte.TaskEnvironment(name="iso_src_top", depends_on=[ea, eb])


@ea.task
async def read_a() -> str:
    await asyncio.sleep(0.05)
    import os

    return os.environ["ISO_SRC_K"]


@eb.task
async def read_b() -> str:
    await asyncio.sleep(0.05)
    import os

    return os.environ["ISO_SRC_K"]


@top.task
async def both() -> str:
    a, b = await asyncio.gather(read_a(), read_b())
    return a + b


def test_warning_names_no_flyte_source_line(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert flyte.with_runcontext(run_base_dir=str(tmp_path)).run(both).outputs()[0] == "AB"
    isolation = [w for w in caught if issubclass(w.category, EnvironmentIsolationWarning)]
    assert len(isolation) == 1
    assert isolation[0].filename == "<flyte environments>", isolation[0].filename
    assert "'iso_src_a' and 'iso_src_b' both set ISO_SRC_K" in str(isolation[0].message)
