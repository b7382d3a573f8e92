"""flyte.logger tags lines with run and action; flyte.ctx() offers the official TaskContext's fields."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import flyte
import pytest
from flyte.errors import NotSupportedError

env = flyte.TaskEnvironment(name="ctxlog")


@env.task
async def child() -> str:
    flyte.logger.info("from the child")
    return flyte.ctx().action.name


@env.task
async def fields() -> dict[str, str]:
    c = flyte.ctx()
    assert c is not None
    name = await child()
    return {
        "run_start_time": c.run_start_time.isoformat(),
        "child_start": "same" if flyte.ctx().run_start_time == c.run_start_time else "other",
        "action": c.action.name,
        "task_action": c.task_action.name,
        "run_name": c.action.run_name,
        "raw": c.raw_data_path.path,
        "random_path": c.raw_data_path.get_random_remote_path("x.csv"),
        "input_path": repr(c.input_path),
        "output_path": c.output_path,
        "mode": c.mode,
        "in_cluster": str(c.is_in_cluster()),
        "interactive": str(c.interactive_mode),
        "getitem": repr(c["nothing"]),
        "custom": c.custom_context.get("team", ""),
        "report": c.report.name,
        "child": name,
    }


@env.task
async def typo() -> None:
    flyte.ctx().acton  # noqa: B018


def test_ctx_fields(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    run = flyte.with_runcontext(run_base_dir=str(tmp_path), custom_context={"team": "ml"}).run(fields)
    out = run.outputs()[0]
    assert before <= datetime.fromisoformat(out["run_start_time"]) <= datetime.now(UTC)
    assert out["action"] == out["task_action"] == "a0" and out["child"] == "a1"
    assert out["run_name"] == run.name
    assert out["random_path"].startswith(out["raw"]) and out["random_path"].endswith("/x.csv")
    assert out["input_path"] == "None" and out["mode"] == "local" and out["in_cluster"] == "False"
    assert out["interactive"] == "False" and out["getitem"] == "None"
    assert out["custom"] == "ml" and out["report"] == "a0"


def test_what_does_not_apply_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"flyte.ctx\(\) has no attribute 'acton'.*docs/compatibility.md"):
        flyte.with_runcontext(run_base_dir=str(tmp_path)).run(typo)
    # flyte.ctx().checkpoint in a program is found before it runs (test_bad_input.py); reached anyway:
    from flyte._context import ActionID, RawDataPath, TaskContext

    tc = TaskContext(ActionID("a0", "r"), RawDataPath(str(tmp_path)), str(tmp_path))
    for name in ("checkpoint", "checkpoint_paths"):
        with pytest.raises(NotSupportedError, match=rf"flyte.ctx\(\).{name} is part of the official.*compatibility"):
            getattr(tc, name)


def test_logger_tags_lines_with_run_and_action(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(fields)
    err = capsys.readouterr().err
    assert f"[{run.name}][a1] INFO from the child" in err
    flyte.logger.warning("outside")
    assert capsys.readouterr().err.strip().splitlines()[-1] == "WARNING outside"
    assert flyte.logger.name == "flyte.user" and flyte.system_logger.name == "flyte"


def test_user_log_level_from_the_environment() -> None:
    from flyte._user_log import level_from_env

    assert level_from_env(None) == 20 and level_from_env("debug") == 10 and level_from_env("30") == 30
    assert level_from_env("nonsense") == 20
