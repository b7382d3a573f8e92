"""The counts line of `flyte run --runtime remote` (no devbox)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flyte_remote.cli import _Counts


def test_counts_line_says_1_action_and_n_actions() -> None:
    c = _Counts(live=False)
    assert c.line() == "waiting for actions"
    c.phases["a0"] = "SUCCEEDED"
    assert c.line() == "1 action: 1 succeeded"
    c.phases["a1"] = "FAILED"
    assert c.line() == "2 actions: 1 succeeded, 1 failed"


def test_no_endpoint_names_flyte_init_to_python_callers_and_the_flag_to_the_cli(tmp_path: Path) -> None:
    import flyte
    from click.testing import CliRunner
    from flyte.cli.main import cli

    env = flyte.TaskEnvironment(name="no_endpoint_env")

    @env.task
    async def hello() -> int:
        return 1

    flyte.init()
    with pytest.raises(flyte.errors.ConfigError) as info:
        flyte.with_runcontext(mode="remote").run(hello)
    msg = str(info.value)
    assert "flyte.init(endpoint=" in msg and "flyte.init_from_config()" in msg
    assert "--endpoint," not in msg and "pass --endpoint" not in msg

    script = tmp_path / "hello.py"
    script.write_text("import flyte\nenv = flyte.TaskEnvironment(name='e')\n\n"
                      "@env.task\nasync def hello() -> int:\n    return 1\n")
    out = CliRunner().invoke(cli, ["run", "--runtime", "remote", str(script), "hello"])
    text = out.output + str(out.exception)  # main() turns a FlyteError into one line; invoke(cli) leaves it raised
    assert out.exit_code != 0
    assert "pass --endpoint" in text and "flyte.init(" not in text
