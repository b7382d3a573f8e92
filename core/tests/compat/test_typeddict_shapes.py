"""TypedDict shapes the official SDK's examples use: self-referential trees, NotRequired at several levels
(``from __future__ import annotations``, typing_extensions), and TypedDicts holding dataclasses, models,
tuples, NamedTuples and Files."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple, TypedDict

import flyte
import pydantic
from flyte.io import File
from typing_extensions import NotRequired

env = flyte.TaskEnvironment(name="tdshapes")


class TreeNode(TypedDict):
    value: str
    children: NotRequired[list[TreeNode]]


class Address(TypedDict):
    street: str
    postal_code: NotRequired[str]


class Contact(TypedDict):
    phone: str
    address: NotRequired[Address]


class Org(TypedDict):
    name: str
    contact: NotRequired[Contact]


@dataclasses.dataclass
class Config:
    lr: float
    layers: list[int]


class Meta(pydantic.BaseModel):
    rows: int


class Metrics(NamedTuple):
    acc: float
    f1: float


class Everything(TypedDict):
    config: Config
    meta: Meta
    pair: tuple[int, str]
    metrics: Metrics
    report: File


def _leaves(n: TreeNode) -> list[str]:
    if "children" not in n:
        return [n["value"]]
    return [v for c in n["children"] for v in _leaves(c)]


@env.task
async def make_tree() -> TreeNode:
    return {"value": "root", "children": [{"value": "a", "children": [{"value": "a1"}]}, {"value": "b"}]}


@env.task
async def leaves(t: TreeNode) -> list[str]:
    return _leaves(t)


@env.task
async def describe(o: Org) -> str:
    parts = [o["name"]]
    if "contact" in o:
        parts.append(o["contact"]["phone"])
        if "address" in o["contact"]:
            parts.append(o["contact"]["address"]["street"])
            parts.append(o["contact"]["address"].get("postal_code", "-"))
    return "|".join(parts)


@env.task
async def make_everything(folder: str) -> Everything:
    p = Path(folder) / "r.txt"
    p.write_text("report")
    return {"config": Config(0.1, [2, 1]), "meta": Meta(rows=3), "pair": (1, "x"), "metrics": Metrics(0.9, 0.8),
            "report": File(path=str(p))}


@env.task
async def use_everything(e: Everything) -> str:
    async with e["report"].open("r") as fh:
        text = await fh.read()
    return f"{e['config'].layers}:{e['meta'].rows}:{e['pair']}:{e['metrics'].f1}:{text}"


@env.task
async def main(folder: str) -> tuple[list[str], str, str, str]:
    tree = await make_tree()
    minimal = await describe({"name": "acme"})
    full = await describe({"name": "x", "contact": {"phone": "1", "address": {"street": "main"}}})
    return await leaves(tree), minimal, full, await use_everything(await make_everything(folder))


def test_typeddict_shapes(tmp_path: Path) -> None:
    out = flyte.with_runcontext(run_base_dir=str(tmp_path / "runs")).run(main, folder=str(tmp_path)).outputs()
    assert out == (["a1", "b"], "acme", "x|1|main|-", "[2, 1]:3:(1, 'x'):0.8:report")
