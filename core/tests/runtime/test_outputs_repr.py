"""`print(run.outputs())` reads as on the official SDK (`ActionOutputs(o0=1, o1="a")`), and o0, o1... address
outputs by position also when a NamedTuple names them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import flyte
import pytest
from flyte.runtime import ActionOutputs

env = flyte.TaskEnvironment(name="outputs_repr")


class Pair(NamedTuple):
    total: int
    label: str


@env.task
async def named(x: int) -> Pair:
    return Pair(x, "b")


def test_repr_is_the_official_form() -> None:
    assert repr(ActionOutputs((1, "a"))) == 'ActionOutputs(o0=1, o1="a")'
    assert str(ActionOutputs((["p", "q"],))) == "ActionOutputs(o0=['p', 'q'])"
    assert repr(ActionOutputs.of(None, [])) == "ActionOutputs(o0=None)"
    assert ActionOutputs((1, "a")) == (1, "a")  # still a tuple


def test_positional_names_for_a_named_tuple(tmp_path: Path) -> None:
    out = flyte.with_runcontext(run_base_dir=str(tmp_path)).run(named, x=1).outputs()
    assert (out.o0, out.o1) == (1, "b") == (out.total, out.label)
    assert repr(out) == 'ActionOutputs(total=1, label="b")'
    with pytest.raises(AttributeError, match="no output named 'o2'; outputs: total, label"):
        _ = out.o2


PROGRAM = textwrap.dedent('''
    import flyte
    env = flyte.TaskEnvironment(name="outrepr")

    @env.task
    async def two(x: int) -> tuple[int, str]:
        return x, "a"

    @env.task
    async def nothing(x: int) -> None:
        return None

    @env.task
    async def one(x: int) -> list[str]:
        return ["p", "q"]

    if __name__ == "__main__":
        flyte.init()
        for t in (two, nothing, one):
            print(flyte.run(t, x=1).outputs())
''')


@pytest.mark.skipif(not os.environ.get("FLYTE_OFFICIAL_PYTHON"), reason="needs FLYTE_OFFICIAL_PYTHON")
def test_same_printout_as_the_official_sdk(tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(PROGRAM)
    outs = []
    for python in (sys.executable, os.environ["FLYTE_OFFICIAL_PYTHON"]):
        env_vars = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "PYTHONPATH"))}
        env_vars.update(HOME=str(tmp_path / python.replace("/", "_")), FLYTE_DISABLE_PLUGINS="remote,example")
        p = subprocess.run([python, "prog.py"], capture_output=True, text=True, env=env_vars, cwd=tmp_path,
                           timeout=300)
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout.strip().splitlines()[-3:])
    assert outs[0] == outs[1] == ['ActionOutputs(o0=1, o1="a")', "ActionOutputs(o0=None)",
                                  "ActionOutputs(o0=['p', 'q'])"]
