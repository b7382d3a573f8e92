# ruff: noqa: UP045, RUF013  (typing.Optional/Union on purpose: they must work like X | Y)
from __future__ import annotations

import dataclasses
from typing import NamedTuple, Optional

import pytest
from flyte.errors import InvalidInputError, TaskDefinitionError, TypeTransformerError
from flyte.io import File
from flyte.types.interface import (
    NativeInterface,
    inputs_to_literals,
    literals_hash,
    literals_to_inputs,
    literals_to_outputs,
    outputs_to_literals,
)
from flyteidl2.core import literals_pb2


def add(a: int, b: int = 2) -> int:
    return a + b


class Stats(NamedTuple):
    mean: float
    n: int


def stats(xs: list[float]) -> Stats:
    return Stats(sum(xs) / len(xs), len(xs))


def pair(s: str) -> tuple[str, int]:
    return s, len(s)


def nothing(flag: bool = False) -> None:
    return None


@dataclasses.dataclass
class Cfg:
    n: int


# -- decoration ------------------------------------------------------------------------------


def test_outputs_are_named_like_the_official_sdk():
    assert list(NativeInterface.from_function(add, "add").outputs) == ["o0"]
    assert list(NativeInterface.from_function(pair, "pair").outputs) == ["o0", "o1"]
    assert list(NativeInterface.from_function(stats, "stats").outputs) == ["mean", "n"]
    assert NativeInterface.from_function(nothing, "nothing").outputs == {}


def test_interface_introspection():
    iface = NativeInterface.from_function(add, "add")
    assert iface.input_types == {"a": int, "b": int}
    assert iface.output_types == {"o0": int}
    assert iface.required_inputs == ["a"]
    assert "add(a: int, b: int = 2)" in repr(iface)
    ti = iface.to_typed_interface()
    assert [v.key for v in ti.inputs.variables] == ["a", "b"]
    assert [v.key for v in ti.outputs.variables] == ["o0"]


def test_unsupported_parameter_names_task_parameter_and_type(monkeypatch):
    monkeypatch.setenv("FLYTE_TYPES_PICKLE", "error")  # the default pickles such types (test_pickle_fallback)
    def f(a: int, s: set[int]) -> int:
        return a

    with pytest.raises(TaskDefinitionError, match=r"Task 'my_task': parameter 's' has type set\[int\]") as e:
        NativeInterface.from_function(f, "my_task")
    assert "Pickled" in str(e.value)


def test_unsupported_output_names_task_and_output(monkeypatch):
    monkeypatch.setenv("FLYTE_TYPES_PICKLE", "error")  # the default pickles such types (test_pickle_fallback)
    def f() -> set[int]:
        return set()

    with pytest.raises(TaskDefinitionError, match=r"Task 't': output 'o0' has type set\[int\]"):
        NativeInterface.from_function(f, "t")


@pytest.mark.parametrize(
    ("src", "msg"),
    [
        ("def f(*xs: int) -> None: ...", r"\*xs"),
        ("def f(**kw: int) -> None: ...", r"\*\*kw"),
        ("def f(x) -> None: ...", "no type annotation"),
        ("def f(x: int, /) -> None: ...", "positional-only"),
        ("def f() -> tuple[int]: ...", "tuple annotation"),
        ("def f(x: 'Nope') -> None: ...", "cannot resolve"),
        ("def f(x: int = 'a') -> None: ...", "default of parameter 'x'"),
    ],
)
def test_definition_errors(src, msg):
    ns: dict = {}
    exec(src, ns)
    with pytest.raises(TaskDefinitionError, match=msg):
        NativeInterface.from_function(ns["f"], "t")


def test_from_types():
    iface = NativeInterface.from_types("t", {"a": int, "b": (str, "x")}, {"o0": float})
    assert iface.required_inputs == ["a"]
    assert list(iface.outputs) == ["o0"]


# -- per call --------------------------------------------------------------------------------


async def test_inputs_roundtrip_with_defaults_and_keywords():
    iface = NativeInterface.from_function(add, "add")
    lits = await inputs_to_literals(iface, (1,), {})
    assert set(lits) == {"a", "b"}
    assert await literals_to_inputs(iface, lits) == {"a": 1, "b": 2}
    lits = await inputs_to_literals(iface, (), {"b": 5, "a": 4})
    assert await literals_to_inputs(iface, lits) == {"a": 4, "b": 5}


@pytest.mark.parametrize(
    ("args", "kwargs", "msg"),
    [
        ((), {}, r"Task 'add' is missing argument 'a' \(int\)"),
        ((1, 2, 3), {}, "takes 2 argument"),
        ((1,), {"c": 3}, "has no argument 'c'"),
        ((1,), {"a": 3}, "'a' given both by position and name"),
        (("x",), {}, r"Task 'add': argument 'a' expects int, got str 'x'"),
        ((1,), {"b": None}, r"argument 'b' expects int, got NoneType"),
    ],
)
async def test_bad_calls_raise_invalid_input(args, kwargs, msg):
    iface = NativeInterface.from_function(add, "add")
    with pytest.raises(InvalidInputError, match=msg):
        await inputs_to_literals(iface, args, kwargs)


async def test_literals_to_inputs_errors():
    iface = NativeInterface.from_function(add, "add")
    lits = await inputs_to_literals(iface, (1,), {})
    with pytest.raises(InvalidInputError, match="has no argument"):
        await literals_to_inputs(iface, {**lits, "zzz": lits["a"]})
    no_b = {"a": lits["a"]}
    assert await literals_to_inputs(iface, no_b) == {"a": 1, "b": 2}
    with pytest.raises(InvalidInputError, match="no value for argument 'a'"):
        await literals_to_inputs(iface, {"b": lits["b"]})
    bad = {"a": literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="x")))}
    with pytest.raises(InvalidInputError, match="cannot read argument 'a' as int"):
        await literals_to_inputs(iface, bad)


async def test_none_default_that_the_type_cannot_carry_is_left_to_python():
    def f(a: int = None) -> int:  # type: ignore[assignment]
        return a or 0

    iface = NativeInterface.from_function(f, "f")
    assert await inputs_to_literals(iface, (), {}) == {}
    assert await literals_to_inputs(iface, {}) == {}
    assert await literals_to_inputs(iface, await inputs_to_literals(iface, (3,), {})) == {"a": 3}


async def test_outputs():
    iface = NativeInterface.from_function(add, "add")
    assert await literals_to_outputs(iface, await outputs_to_literals(iface, 3)) == 3
    with pytest.raises(TypeTransformerError, match="Task 'add': output 'o0' expects int, got str"):
        await outputs_to_literals(iface, "3")
    with pytest.raises(TypeTransformerError, match="output 'o0' is missing"):
        await literals_to_outputs(iface, {})

    iface = NativeInterface.from_function(pair, "pair")
    assert await literals_to_outputs(iface, await outputs_to_literals(iface, ("ab", 2))) == ("ab", 2)
    with pytest.raises(TypeTransformerError, match="declares 2 outputs"):
        await outputs_to_literals(iface, "ab")

    iface = NativeInterface.from_function(stats, "stats")
    out = await outputs_to_literals(iface, Stats(1.5, 2))
    assert set(out) == {"mean", "n"}
    v = await literals_to_outputs(iface, out)
    assert v == Stats(1.5, 2) and v.mean == 1.5

    iface = NativeInterface.from_function(nothing, "nothing")
    assert await outputs_to_literals(iface, None) == {}
    assert await literals_to_outputs(iface, {}) is None
    with pytest.raises(TypeTransformerError, match="declares no outputs but returned int"):
        await outputs_to_literals(iface, 1)


async def test_async_parameters_use_the_transformer(tmp_path):
    def f(files: list[File], cfg: Optional[Cfg] = None) -> File:
        return files[0]

    iface = NativeInterface.from_function(f, "f")
    src = tmp_path / "a.txt"
    src.write_text("a")
    lits = await inputs_to_literals(iface, ([File(path=str(src))],), {"cfg": Cfg(2)})
    kw = await literals_to_inputs(iface, lits)
    assert kw["files"][0].path == str(src) and kw["cfg"] == Cfg(2)
    with pytest.raises(InvalidInputError, match="argument 'files' expects list"):
        await inputs_to_literals(iface, (["nope"],), {})


async def test_literals_hash_is_deterministic():
    def f(m: dict[str, int], x: float) -> None:
        return None

    iface = NativeInterface.from_function(f, "f")
    a = await inputs_to_literals(iface, ({"a": 1, "b": 2}, 1.0), {})
    b = await inputs_to_literals(iface, (), {"x": 1.0, "m": {"b": 2, "a": 1}})
    assert literals_hash(a) == literals_hash(b)
    c = await inputs_to_literals(iface, ({"a": 1, "b": 3}, 1.0), {})
    assert literals_hash(a) != literals_hash(c)
    assert len(literals_hash({})) == 64


async def test_default_inputs_for_a_task_spec():
    from flyte.types.interface import default_inputs

    def f(a: int, b: str = "x", c: Optional[float] = None, d: int = None) -> None:  # type: ignore[assignment]
        return None

    params = await default_inputs(NativeInterface.from_function(f, "f"))
    assert [p.name for p in params] == ["b", "c"]
    assert params[0].parameter.default.scalar.primitive.string_value == "x"
    assert params[0].parameter.var.type.simple == 3  # STRING
    assert params[1].parameter.default.scalar.union.value.scalar.HasField("none_type")
