"""Secrets are checked when read (issue 10, item 8), and the quickstart's program runs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import flyte
import pytest
from flyte.errors import RuntimeUserError

env = flyte.TaskEnvironment(
    name="rel_secrets",
    secrets=[flyte.Secret(key="api-token", as_env_var="REL_API_TOKEN"), flyte.Secret(key="db-pass", group="prod")],
)


@env.task
async def never_reads(x: int) -> int:
    return x + 1


@env.task
async def reads_token() -> str:
    return os.environ["REL_API_TOKEN"]


@env.task
async def getenv_token() -> str:
    return repr((os.getenv("REL_API_TOKEN"), os.environ.get("REL_API_TOKEN", "dflt"), "REL_API_TOKEN" in os.environ))


@env.task
async def reads_grouped() -> str:
    return os.environ["PROD_DB_PASS"]


@env.task
async def parent_of_reader() -> str:
    ok = await never_reads(1)
    try:
        return await reads_token()
    except RuntimeUserError as e:
        return f"{ok} child failed: {e}"


@pytest.fixture(autouse=True)
def _no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("REL_API_TOKEN", "FLYTE_SECRET_REL_API_TOKEN", "API_TOKEN", "PROD_DB_PASS", "DB_PASS",
              "FLYTE_SECRETS_DIR"):
        monkeypatch.delenv(k, raising=False)


def test_a_task_that_never_reads_a_missing_secret_runs() -> None:
    assert flyte.run(never_reads, x=1).outputs()[0] == 2


def test_reading_a_missing_secret_fails_that_task_naming_it_and_how_to_provide_it() -> None:
    with pytest.raises(RuntimeUserError) as e:
        flyte.run(reads_token)
    msg = str(e.value)
    assert "api-token" in msg and "REL_API_TOKEN" in msg
    assert "FLYTE_SECRETS_DIR" in msg and "export REL_API_TOKEN=" in msg
    assert "reads_token" in msg
    assert e.value.code == "SecretNotFoundError"


def test_getenv_of_a_missing_secret_is_none_like_the_official_sdk() -> None:
    assert flyte.run(getenv_token).outputs()[0] == repr((None, "dflt", False))


def test_only_the_reader_fails_its_siblings_and_parent_go_on() -> None:
    out = flyte.run(parent_of_reader).outputs()[0]
    assert out.startswith("2 child failed:") and "api-token" in out


def test_a_grouped_secret_names_group_and_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeUserError) as e:
        flyte.run(reads_grouped)
    assert "group 'prod'" in str(e.value) and "$FLYTE_SECRETS_DIR/prod/db-pass" in str(e.value)


def test_provided_secrets_are_read_from_env_and_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REL_API_TOKEN", "tok-123")
    (tmp_path / "prod").mkdir()
    (tmp_path / "prod" / "db-pass").write_text("pw-456\n")
    monkeypatch.setenv("FLYTE_SECRETS_DIR", str(tmp_path))
    assert flyte.run(reads_token).outputs()[0] == "tok-123"
    assert flyte.run(reads_grouped).outputs()[0] == "pw-456"


def test_the_secret_value_never_appears_in_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROD_DB_PASS", "hunter2-secret")

    @env.task
    async def leaks() -> str:
        raise ValueError("bad")

    with pytest.raises(RuntimeUserError) as e:
        flyte.run(leaks)
    assert "hunter2-secret" not in str(e.value)


@pytest.mark.slow
def test_the_quickstart_program_runs(tmp_path: Path, run_flyte) -> None:
    doc = (Path(__file__).parents[3] / "docs" / "quickstart.md").read_text()
    program = re.search(r"## Write tasks\n```python\n(.*?)```", doc, re.S)
    assert program, "docs/quickstart.md has no program under 'Write tasks'"
    (tmp_path / "demo.py").write_text(program.group(1))
    result = run_flyte("run", "--no-progress", "demo.py", "main", "--n", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "succeeded" in result.stdout
