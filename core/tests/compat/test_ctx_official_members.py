"""Every public member of the official SDK 2.12.1's TaskContext is on flyte.ctx(): implemented, or a one-line
NotSupportedError (never the generic AttributeError a program written for the official SDK would hit)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import flyte
import pytest
from flyte.errors import NotSupportedError

# dataclasses.fields(TaskContext) + public dir(TaskContext) of flyte==2.12.1 (flyte.models.TaskContext)
OFFICIAL_MEMBERS = sorted({
    "action", "version", "raw_data_path", "input_path", "output_path", "run_base_dir", "report", "group_data",
    "checkpoint_paths", "code_bundle", "compiled_image_cache", "data", "mode", "interactive_mode", "custom_context",
    "disable_run_cache", "in_driver_literal_conversion", "run_start_time", "task_action", "attempt_number",
    "checkpoint", "is_in_cluster", "local_rank", "local_world_size", "master_addr", "master_port", "nnodes",
    "node_rank", "rank", "replace", "restart_attempt", "world_size",
})

env = flyte.TaskEnvironment(name="ctxmembers", env_vars={"RANK": "3", "WORLD_SIZE": "8", "MASTER_ADDR": "h0"})
_calls: list[int] = []


@env.task
async def members() -> dict[str, str]:
    c = flyte.ctx()
    out = {}
    for name in OFFICIAL_MEMBERS:
        try:
            getattr(c, name)
            out[name] = "ok"
        except NotSupportedError:
            out[name] = "not supported"
        except AttributeError as e:
            out[name] = f"AttributeError: {e}"
    return out


@env.task(retries=2)
async def attempts() -> str:
    c = flyte.ctx()
    _calls.append(c.attempt_number)
    if len(_calls) < 3:
        raise RuntimeError("again")
    return f"{_calls} rank={c.rank} world={c.world_size} local_rank={c.local_rank} addr={c.master_addr}"


def test_every_official_member_is_there_or_not_supported(tmp_path: Path) -> None:
    got = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(members).outputs()[0]
    bad = {k: v for k, v in got.items() if v.startswith("AttributeError")}
    assert bad == {}


def test_attempt_number_and_launcher_coordinates(tmp_path: Path) -> None:
    _calls.clear()
    out = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(attempts).outputs()[0]
    assert out == "[0, 1, 2] rank=3 world=8 local_rank=None addr=h0"


@pytest.mark.skipif(not os.environ.get("FLYTE_OFFICIAL_PYTHON"), reason="needs FLYTE_OFFICIAL_PYTHON")
def test_the_list_is_the_official_one() -> None:
    code = ("import dataclasses\nfrom flyte.models import TaskContext as T\n"
            "names = {f.name for f in dataclasses.fields(T)} | {n for n in dir(T) if not n.startswith('_')}\n"
            "print(' '.join(sorted(n for n in names if not n.startswith('_'))))")
    p = subprocess.run([os.environ["FLYTE_OFFICIAL_PYTHON"], "-c", code], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == OFFICIAL_MEMBERS
