# ruff: noqa: UP007, UP045  (typing.Optional on purpose: it must work like X | None)
"""typing.Literal: the official SDK's encodings (golden fixtures check the bytes), member checks,
and the restricted unpickler that reads the pickled form."""

from __future__ import annotations

import dataclasses
import enum
import os
import pickle
import typing
from typing import Annotated, Literal, Optional

import pytest
from flyte.errors import InvalidInputError, TaskDefinitionError, TypeTransformerError
from flyte.types import TypeEngine
from flyte.types.interface import NativeInterface, inputs_to_literals, literals_to_inputs
from flyteidl2.core import literals_pb2

AB = Literal["a", "b"]


def binary(data: bytes) -> literals_pb2.Literal:
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=data)))


async def roundtrip(v, t):
    return await TypeEngine.to_python_value(await TypeEngine.to_literal(v, t), t)


class Color(enum.Enum):
    RED = "red"


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@dataclasses.dataclass
class Cfg:
    mode: Literal["a", "b"] = "a"
    n: Literal[1, 2] = 1


# -- the engine: the official pickle form ----------------------------------------------------


@pytest.mark.parametrize(
    ("t", "v"), [(AB, "b"), (Literal[1, 2], 2), (Literal[True, False], False), (Literal["a", 1], 1)]
)
async def test_engine_level_literal_is_the_pickle_union(t, v):
    lt = TypeEngine.to_literal_type(t)
    assert [x.structure.tag for x in lt.union_type.variants] == ["FlytePickle", "FlytePickle"]
    assert lt.metadata["python_class_name"] == str(t)
    lit = await TypeEngine.to_literal(v, t)
    assert lit.scalar.binary.value == pickle.dumps(v, protocol=5)
    back = await TypeEngine.to_python_value(lit, t)
    assert back == v and type(back) is type(v)


@pytest.mark.parametrize(
    ("t", "v"),
    [(AB, "c"), (AB, None), (AB, 1), (Literal[1, 2], 3), (Literal[1, 2], True), (Literal[True], 1), (Literal[1], 1.0)],
)
async def test_value_not_in_literal_names_the_allowed_values(t, v):
    with pytest.raises(TypeTransformerError, match=r"is not one of the allowed values \["):
        await TypeEngine.to_literal(v, t)


async def test_optional_and_nested_literals():
    assert await roundtrip(None, Optional[AB]) is None
    assert await roundtrip("a", Optional[AB]) == "a"
    assert await roundtrip(["b", "a"], list[AB]) == ["b", "a"]
    assert await roundtrip({"k": 2}, dict[str, Literal[1, 2]]) == {"k": 2}
    with pytest.raises(TypeTransformerError, match="allowed values"):
        await TypeEngine.to_literal(["a", "z"], list[AB])


async def test_annotated_literal_keeps_the_full_class_name():
    t = Annotated[AB, "doc"]
    assert TypeEngine.to_literal_type(t).metadata["python_class_name"] == str(t)
    assert await roundtrip("a", t) == "a"


@pytest.mark.parametrize("t", [Literal[None], Literal["a", None], Literal[b"x"]])
def test_unsupported_literal_values_fail_at_definition(t):
    with pytest.raises(TypeTransformerError, match="str, int, bool or Enum members"):
        TypeEngine.to_literal_type(t)
    with pytest.raises(TaskDefinitionError, match="str, int, bool or Enum members"):
        NativeInterface.from_types("f", {"x": t})


# -- reading pickles: no globals, members only -------------------------------------------------


@pytest.mark.parametrize("obj", [Evil(), Color.RED, pickle.PickleBuffer])
async def test_pickle_with_a_global_is_refused(obj):
    data = pickle.dumps(obj, protocol=5)
    with pytest.raises(TypeTransformerError, match="refusing to unpickle"):
        await TypeEngine.to_python_value(binary(data), AB)


@pytest.mark.parametrize(
    ("t", "obj", "msg"),
    [
        (AB, ["a"], "holds a list"),
        (AB, {"a": 1}, "holds a dict"),
        (AB, b"a", "holds a bytes"),
        (AB, 1.5, "holds a float"),
        (AB, "c", "not one of the allowed values"),
        (Literal[True], 1, "not one of the allowed values"),
        (Literal[1, 2], True, "not one of the allowed values"),
    ],
)
async def test_decoded_value_must_be_a_member(t, obj, msg):
    with pytest.raises(TypeTransformerError, match=msg):
        await TypeEngine.to_python_value(binary(pickle.dumps(obj, protocol=5)), t)


async def test_malformed_pickle_is_a_clear_error():
    with pytest.raises(TypeTransformerError, match="Cannot read a Literal"):
        await TypeEngine.to_python_value(binary(b"\x80\x05not a pickle"), AB)


# -- inside structs: plain msgpack values, checked --------------------------------------------


async def test_dataclass_literal_fields_are_checked():
    assert await roundtrip(Cfg("b", 2), Cfg) == Cfg("b", 2)
    with pytest.raises(TypeTransformerError, match="allowed values"):
        await TypeEngine.to_literal(Cfg("c"), Cfg)  # type: ignore[arg-type]
    import msgpack

    bad = literals_pb2.Literal(
        scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=msgpack.packb({"mode": "z"}), tag="msgpack"))
    )
    with pytest.raises(TypeTransformerError, match="allowed values"):
        await TypeEngine.to_python_value(bad, Cfg)


# -- the top level of a task signature --------------------------------------------------------


def task(a: AB, b: Literal[1, 2] = 2, c: Optional[AB] = None) -> tuple[AB, Literal[0, 1]]:
    return a, 0


async def test_signature_literals_follow_the_official_interface():
    iface = NativeInterface.from_function(task, "task")
    typed = iface.to_typed_interface()
    ins = {e.key: e.value.type for e in typed.inputs.variables}
    outs = {e.key: e.value.type for e in typed.outputs.variables}
    assert list(ins["a"].enum_type.values) == ["a", "b"] and list(outs["o0"].enum_type.values) == ["a", "b"]
    assert ins["b"].metadata["python_class_name"] == "typing.Any" == outs["o1"].metadata["python_class_name"]
    assert ins["c"].union_type.variants[0].metadata["python_class_name"] == str(AB)
    lits = await inputs_to_literals(iface, ("b",), {"b": 1, "c": "a"})
    assert lits["a"].scalar.primitive.string_value == "b"
    assert lits["b"].scalar.binary.value == pickle.dumps(1, protocol=5)
    assert await literals_to_inputs(iface, lits) == {"a": "b", "b": 1, "c": "a"}
    with pytest.raises(InvalidInputError, match=r"argument 'a'.*allowed values \['a', 'b'\]"):
        await inputs_to_literals(iface, ("z",), {})
    with pytest.raises(InvalidInputError, match=r"argument 'b'.*allowed values \[1, 2\]"):
        await inputs_to_literals(iface, ("a",), {"b": 5})
    bad = dict(
        lits, a=literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value="z")))
    )
    with pytest.raises(InvalidInputError, match="allowed values"):
        await literals_to_inputs(iface, bad)


def test_bad_default_is_a_definition_error():
    def f(a: AB = "z") -> None:  # type: ignore[assignment]
        return None

    with pytest.raises(TaskDefinitionError, match="allowed values"):
        NativeInterface.from_function(f, "f")


async def test_guessed_types_read_official_literals():
    """A task known only by its TypedInterface: enums stay strings, pickled Literals are checked."""
    from flyte.types._literal import LITERAL_ENUM

    guessed = TypeEngine.guess_python_type(TypeEngine.to_literal_type(Optional[AB]))
    assert guessed == typing.Union[AB, None]
    lt = TypeEngine.to_literal_type(list[Annotated[AB, LITERAL_ENUM]])
    assert TypeEngine.guess_python_type(lt) == list[Annotated[AB, LITERAL_ENUM]]
    lit = await TypeEngine.to_literal(["a"], list[Annotated[AB, LITERAL_ENUM]])
    assert lit.collection.literals[0].scalar.primitive.string_value == "a"


async def test_pickle_in_a_blob_is_read_the_same_way(tmp_path):
    """The official SDK writes a pickle over 10 KiB to a blob; it is read with the same checks."""
    good, bad = tmp_path / "good.pkl", tmp_path / "bad.pkl"
    good.write_bytes(pickle.dumps("b", protocol=5))
    bad.write_bytes(pickle.dumps(Evil(), protocol=5))

    def blob(path) -> literals_pb2.Literal:
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=literals_pb2.Blob(uri=str(path))))

    assert await TypeEngine.to_python_value(blob(good), AB) == "b"
    with pytest.raises(TypeTransformerError, match="refusing to unpickle"):
        await TypeEngine.to_python_value(blob(bad), AB)
