"""Cross-SDK compatibility against fixtures written by the official Flyte 2 SDK 2.12.1.

The fixtures (golden/official_2_12_1.json) come from make_golden.py run with the official
SDK; these tests need only our package.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import sys

import pytest
from flyte.io import Dir, File
from flyte.types import Pickled, TypeEngine
from flyte.types.interface import NativeInterface
from flyteidl2.core.interface_pb2 import TypedInterface
from flyteidl2.core.literals_pb2 import Literal
from flyteidl2.core.types_pb2 import LiteralType

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden", "official_2_12_1.json")


def _load_cases_module():
    spec = importlib.util.spec_from_file_location("golden_cases", os.path.join(HERE, "golden_cases.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["golden_cases"] = mod
    spec.loader.exec_module(mod)
    return mod


golden_cases = _load_cases_module()
with open(GOLDEN) as _f:
    FIXTURE = json.load(_f)
CASES = {cid: (t, v, exp, same) for cid, t, v, exp, same in golden_cases.build(File, Dir, lambda t: Pickled[t])}

# LiteralTypes whose JSON-schema metadata is built differently (pydantic $defs vs inline);
# readers do not use the metadata when the class is known, so only the rest must match.
METADATA_MAY_DIFFER: set[str] = set()


def _lit(b64: str) -> Literal:
    lit = Literal()
    lit.ParseFromString(base64.b64decode(b64))
    return lit


def _lt(b64: str) -> LiteralType:
    lt = LiteralType()
    lt.ParseFromString(base64.b64decode(b64))
    return lt


def test_fixture_covers_every_case():
    assert set(FIXTURE["cases"]) == set(CASES)
    assert FIXTURE["version"] == "2.12.1"


@pytest.mark.parametrize("cid", sorted(CASES))
def test_literal_type_matches_official(cid):
    t, _, _, _ = CASES[cid]
    official = _lt(FIXTURE["cases"][cid]["literal_type"])
    ours = TypeEngine.to_literal_type(t)
    if cid in METADATA_MAY_DIFFER:
        official.ClearField("metadata")
        ours.ClearField("metadata")
    assert ours == official


@pytest.mark.parametrize("cid", sorted(CASES))
async def test_decode_official_literal(cid):
    t, _, expected, _ = CASES[cid]
    assert FIXTURE["cases"][cid]["official_roundtrip_equal"]
    value = await TypeEngine.to_python_value(_lit(FIXTURE["cases"][cid]["literal"]), t)
    assert value == expected


@pytest.mark.parametrize("cid", sorted(CASES))
async def test_our_literal_roundtrips_and_matches_bytes(cid):
    t, v, expected, same = CASES[cid]
    lit = await TypeEngine.to_literal(v, t, TypeEngine.to_literal_type(t))
    assert await TypeEngine.to_python_value(lit, t) == expected
    if same:
        assert lit.SerializeToString(deterministic=True) == base64.b64decode(FIXTURE["cases"][cid]["literal"])


@pytest.mark.parametrize("name", sorted(FIXTURE["interfaces"]))
def test_typed_interface_matches_official(name):
    fn = golden_cases.interface_functions(File, Dir)[name]
    ours = NativeInterface.from_function(fn, name).to_typed_interface()
    official = TypedInterface()
    official.ParseFromString(base64.b64decode(FIXTURE["interfaces"][name]))
    assert ours == official


@pytest.mark.parametrize("name", sorted(FIXTURE["defaults"]))
async def test_default_inputs_match_official(name):
    from flyte.types.interface import default_inputs

    fn = golden_cases.interface_functions(File, Dir)[name]
    ours = await default_inputs(NativeInterface.from_function(fn, name))
    official = [base64.b64decode(b) for b in FIXTURE["defaults"][name]]
    assert [p.SerializeToString(deterministic=True) for p in ours] == official


@pytest.mark.parametrize("name", sorted(FIXTURE["calls"]))
async def test_call_literals_match_official(name):
    """Each argument of a call: we read the official literal back, and write the same bytes."""
    from flyte.types.interface import inputs_to_literals, literals_to_inputs

    fn = golden_cases.interface_functions(File, Dir)[name]
    kwargs = golden_cases.interface_calls()[name]
    iface = NativeInterface.from_function(fn, name)
    official = {k: _lit(b) for k, b in FIXTURE["calls"][name].items()}
    assert await literals_to_inputs(iface, official) == {**kwargs, **{k: v for k, v in await _defaults(iface)}}
    ours = await inputs_to_literals(iface, (), kwargs)
    assert {k: v.SerializeToString(deterministic=True) for k, v in ours.items()} == {
        k: v.SerializeToString(deterministic=True) for k, v in official.items()
    }


async def _defaults(iface):
    return [(k, p.default) for k, p in iface.inputs.items() if k not in golden_cases.interface_calls()[iface.task_name]]


# A Python with the official SDK (flyte==2.12.1): `python3 dev.py test` installs one and sets this.
OFFICIAL_PYTHON = os.environ.get("FLYTE_OFFICIAL_PYTHON", "")


@pytest.mark.skipif(not OFFICIAL_PYTHON, reason="FLYTE_OFFICIAL_PYTHON not set (python3 dev.py test sets it)")
async def test_official_sdk_decodes_our_literals(tmp_path):
    import subprocess

    from flyte.types.interface import inputs_to_literals

    ours = {}
    for cid, (t, v, _, _) in CASES.items():
        lit = await TypeEngine.to_literal(v, t, TypeEngine.to_literal_type(t))
        ours[cid] = base64.b64encode(lit.SerializeToString(deterministic=True)).decode()
    # task inputs as our interface writes them (top-level Literal: enum or pickle, like the official one)
    fns = golden_cases.interface_functions(File, Dir)
    calls = {}
    for name, kwargs in golden_cases.interface_calls().items():
        lits = await inputs_to_literals(NativeInterface.from_function(fns[name], name), (), kwargs)
        calls[name] = {k: base64.b64encode(x.SerializeToString(deterministic=True)).decode() for k, x in lits.items()}
    ours["__calls__"] = calls
    src, dst = tmp_path / "ours.json", tmp_path / "result.json"
    src.write_text(json.dumps(ours))
    subprocess.run(
        [OFFICIAL_PYTHON, os.path.join(HERE, "official_decode.py"), str(src), str(dst)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    result = json.loads(dst.read_text())
    assert {cid: r for cid, r in result.items() if r != "ok"} == {}
    calls = {f"{name}.{k}" for name, kwargs in golden_cases.interface_calls().items() for k in kwargs}
    assert set(result) == set(CASES) | calls


@pytest.mark.parametrize("name", sorted(FIXTURE["interfaces"]))
async def test_interface_known_only_by_its_official_typed_interface(name):
    """A task written with the official SDK, called with guessed types, keeps its exact interface."""
    from flyte.types.interface import default_inputs, inputs_to_literals, literals_to_inputs
    from flyteidl2.task.common_pb2 import NamedParameter

    typed = TypedInterface()
    typed.ParseFromString(base64.b64decode(FIXTURE["interfaces"][name]))
    defaults = []
    for b in FIXTURE["defaults"][name]:
        p = NamedParameter()
        p.ParseFromString(base64.b64decode(b))
        defaults.append(p)
    iface = NativeInterface.from_typed_interface(name, typed, defaults)
    assert iface.to_typed_interface() == typed
    assert [p.SerializeToString(deterministic=True) for p in await default_inputs(iface)] == [
        p.SerializeToString(deterministic=True) for p in defaults
    ]
    # the defaults alone satisfy the optional inputs; they read back as plain values
    required = iface.required_inputs
    assert sorted(required) == sorted(k for k in iface.inputs if k not in {p.name for p in defaults})
    if not required:
        lits = await inputs_to_literals(iface, (), {})
        assert set(lits) == set(iface.inputs)
        await literals_to_inputs(iface, lits)


async def test_calling_an_official_task_by_its_interface():
    from flyte.types.interface import inputs_to_literals, literals_to_inputs
    from flyteidl2.task.common_pb2 import NamedParameter

    def load(name):
        typed = TypedInterface()
        typed.ParseFromString(base64.b64decode(FIXTURE["interfaces"][name]))
        defaults = [NamedParameter.FromString(base64.b64decode(b)) for b in FIXTURE["defaults"][name]]
        return NativeInterface.from_typed_interface(name, typed, defaults)

    basic = load("fn_basic")
    lits = await inputs_to_literals(basic, (1,), {})
    assert await literals_to_inputs(basic, lits) == {"a": 1, "b": "x", "c": None}
    # what the official task body would receive, read with the real annotations
    real = NativeInterface.from_function(golden_cases.fn_basic, "fn_basic")
    assert await literals_to_inputs(real, lits) == {"a": 1, "b": "x", "c": None}

    named = load("fn_named")
    everything = CASES["dataclass_everything"][1]
    as_dict = await TypeEngine.to_python_value(
        await TypeEngine.to_literal(everything, type(everything)), named.input_types["x"]
    )
    lits = await inputs_to_literals(named, (), {"x": as_dict, "y": "GREEN"})
    real = NativeInterface.from_function(golden_cases.fn_named, "fn_named")
    got = await literals_to_inputs(real, lits)
    assert got["x"] == everything and got["y"] == golden_cases.Color.GREEN and got["z"] == "fast"
