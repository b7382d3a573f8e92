"""TypedDict as structs, Literal[...] of Enum members, and every other type pickled with one warning per type
per run (``types.pickle: error`` / FLYTE_TYPES_PICKLE=error refuses instead), as on the official SDK."""

from __future__ import annotations

import asyncio
import enum
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Literal, NotRequired, TypedDict

import flyte
import flyte.config
import pytest
from flyte.errors import PickleWarning, TaskDefinitionError
from flyte.types import TypeEngine

OFFICIAL_PYTHON = os.environ.get("FLYTE_OFFICIAL_PYTHON", "")


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Inner(TypedDict):
    a: int
    tags: list[str]


class Record(TypedDict):
    name: str
    inner: Inner
    many: list[Inner]
    opt: NotRequired[int]


class Loose(TypedDict, total=False):
    x: int
    y: str


class Opaque:
    def __init__(self, v: int) -> None:
        self.v = v


env = flyte.TaskEnvironment(name="typescompat")


@env.task
async def grow(r: Record) -> Record:
    out: Record = {"name": r["name"] + "!", "inner": r["inner"], "many": r["many"] + [r["inner"]]}
    if "opt" in r:
        out["opt"] = r["opt"] + 1
    return out


@env.task
async def loose(x: Loose) -> Loose:
    return x


@env.task
async def flip(c: Literal[Color.RED, Color.BLUE]) -> Literal[Color.RED, Color.BLUE]:
    return Color.BLUE if c is Color.RED else Color.RED


@env.task
async def bump(o: Opaque) -> Opaque:
    return Opaque(o.v + 1)


@env.task
async def twice() -> int:
    a = await bump(Opaque(1))
    b = await bump(a)
    return b.v


def _run(tmp_path: Path, task: flyte.TaskTemplate, **kw: object) -> object:
    return flyte.with_runcontext(run_base_dir=str(tmp_path)).run(task, **kw).outputs()[0]  # type: ignore[arg-type]


def test_typed_dicts_round_trip(tmp_path: Path) -> None:
    inner: Inner = {"a": 1, "tags": ["x"]}
    got = _run(tmp_path, grow, r={"name": "n", "inner": inner, "many": [], "opt": 4})
    assert got == {"name": "n!", "inner": inner, "many": [inner], "opt": 5}
    got = _run(tmp_path, grow, r={"name": "n", "inner": inner, "many": []})
    assert "opt" not in got  # type: ignore[operator]  # a NotRequired key not given stays absent
    assert _run(tmp_path, loose, x={"y": "only"}) == {"y": "only"}


def test_typed_dict_errors_name_the_keys() -> None:
    lt = TypeEngine.to_literal_type(Record)
    with pytest.raises(Exception, match=r"lacks the required key\(s\) \['inner', 'many'\]"):
        asyncio.run(TypeEngine.to_literal({"name": "n"}, Record, lt))
    with pytest.raises(Exception, match=r"has key\(s\) \['zzz'\]"):
        asyncio.run(TypeEngine.to_literal({"name": "n", "inner": {"a": 1, "tags": []}, "many": [], "zzz": 1},
                                          Record, lt))


def test_literal_of_enum_members(tmp_path: Path) -> None:
    assert _run(tmp_path, flip, c=Color.RED) is Color.BLUE
    lt = TypeEngine.to_literal_type(Literal[Color.RED])
    with pytest.raises(Exception, match="not one of the allowed values"):
        asyncio.run(TypeEngine.to_literal(Color.BLUE, Literal[Color.RED], lt))


def test_other_types_travel_pickled_with_one_warning_per_type_per_run(tmp_path: Path) -> None:
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert _run(tmp_path, twice) == 3
        mine = [w for w in caught if issubclass(w.category, PickleWarning)]
        assert len(mine) == 1, [str(w.message) for w in mine]  # four values of Opaque, one warning, every run
        text = str(mine[0].message)
        assert "Opaque" in text and "types.pickle: error" in text and "FLYTE_TYPES_PICKLE=error" in text


def test_pickling_can_be_made_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLYTE_TYPES_PICKLE", "error")
    with pytest.raises(TaskDefinitionError, match=r"Opaque is not supported: types.pickle is 'error'"):
        @env.task
        async def refused(o: Opaque) -> None: ...
    monkeypatch.delenv("FLYTE_TYPES_PICKLE")
    (tmp_path / "config.yaml").write_text("types:\n  pickle: error\n")
    flyte.config.set_config(flyte.config.load_config(tmp_path / "config.yaml"))
    with pytest.raises(TaskDefinitionError, match="types.pickle is 'error'"):
        @env.task
        async def refused_too(o: Opaque) -> None: ...
    flyte.config.set_config(flyte.config.Config({"types.pickle": "sometimes"}, tmp_path / "config.yaml"))
    with pytest.raises(Exception, match="types.pickle .* is 'sometimes'; use 'warn'"):
        TypeEngine.to_literal_type(set[Opaque])


PROBE = textwrap.dedent('''
    import asyncio, enum, sys
    from typing import Literal, NotRequired, TypedDict
    from flyte.types import TypeEngine
    sys.path.insert(0, sys.argv[1])
    from shapes import Color, Record

    async def main():
        out = []
        for t, v in [(Record, {"name": "n", "inner": {"a": 1, "tags": ["x"]}, "many": [], "opt": 3}),
                     (Literal[Color.RED, Color.BLUE], Color.BLUE)]:
            lt = TypeEngine.to_literal_type(t)
            lit = await TypeEngine.to_literal(v, t, lt)
            out.append(lt.SerializeToString(deterministic=True).hex())
            out.append(lit.SerializeToString(deterministic=True).hex())
        print(" ".join(out))
    asyncio.run(main())
''')

SHAPES = textwrap.dedent('''
    import enum
    from typing import NotRequired, TypedDict

    class Color(enum.Enum):
        RED = "red"
        BLUE = "blue"

    class Inner(TypedDict):
        a: int
        tags: list[str]

    class Record(TypedDict):
        name: str
        inner: Inner
        many: list[Inner]
        opt: NotRequired[int]
''')


@pytest.mark.skipif(not OFFICIAL_PYTHON, reason="FLYTE_OFFICIAL_PYTHON not set (python3 dev.py test sets it)")
def test_the_wire_is_the_official_sdks(tmp_path: Path) -> None:
    (tmp_path / "shapes.py").write_text(SHAPES)
    (tmp_path / "probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "PYTHONPATH"))}
    env["HOME"] = str(tmp_path)
    outs = []
    for python in (sys.executable, OFFICIAL_PYTHON):
        p = subprocess.run([python, str(tmp_path / "probe.py"), str(tmp_path)], capture_output=True, text=True,
                           env=env, timeout=120)
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout.split())
    assert outs[0] == outs[1]  # LiteralTypes and Literals byte for byte (an importable Enum pickles by reference)
