"""`flyte run deployed-task X --help` shows a deployed task's defaults as values (they are known only as
literals): not `<default>`, and a False boolean default is not shown as True."""

from __future__ import annotations

import asyncio

import flyte
from flyte.cli.params import options_for
from flyte.remote.spec import SpecContext, task_spec
from flyte.types.interface import NativeInterface, default_inputs

env = flyte.TaskEnvironment(name="defaults_env")


@env.task
async def t(s: float = 20.0, name: str = "world", flag: bool = False, n: int = 3) -> str:
    return f"{s}{name}{flag}{n}"


def test_deployed_defaults_are_shown_as_values() -> None:
    defaults = asyncio.run(default_inputs(t.interface))
    spec = task_spec(t, SpecContext(project="p", domain="d", version="v"), defaults)
    iface = NativeInterface.from_typed_interface(t.name, spec.task_template.interface, spec.default_inputs)
    opts = {o.name: o for o in options_for(iface)}
    helps = {k: o.help or "" for k, o in opts.items()}
    assert "<default>" not in " ".join(helps.values()), helps
    assert "[default: 20.0]" in helps["s"] and "[default: world]" in helps["name"] and "[default: 3]" in helps["n"]
    assert opts["flag"].default is False
