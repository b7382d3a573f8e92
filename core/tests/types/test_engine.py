# ruff: noqa: UP007, UP045  (typing.Optional/Union on purpose: they must work like X | Y)
from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import pickle
import typing
from typing import Annotated, Any, Optional, Union

import pydantic
import pytest
from flyte.errors import TypeTransformerError
from flyte.types import Pickled, TypeEngine, TypeTransformer
from flyteidl2.core import literals_pb2, types_pb2
from flyteidl2.core.literals_pb2 import Literal

# -- helpers ---------------------------------------------------------------------------------


async def roundtrip(v: Any, t: Any) -> Any:
    lit = await TypeEngine.to_literal(v, t, TypeEngine.to_literal_type(t))
    return await TypeEngine.to_python_value(lit, t)


def prim(**kw: Any) -> Literal:
    return Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(**kw)))


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0
    label: Optional[str] = None


@dataclasses.dataclass
class Holder:  # string annotations (from __future__) must resolve
    points: list[Point]
    when: datetime.date


class Shape(pydantic.BaseModel):
    sides: int
    name: str = "poly"


class Perm(enum.Flag):
    R = 1
    W = 2


class Floaty(enum.Enum):
    A = 1.5


class Empty(enum.Enum):
    pass


# -- scalars ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "v"),
    [
        (int, 5),
        (float, 2.5),
        (str, "s"),
        (bool, False),
        (type(None), None),
        (None, None),
        (datetime.timedelta, datetime.timedelta(minutes=3)),
        (bytes, b"\xff" * 20000),
    ],
)
async def test_scalars_roundtrip(t, v):
    assert await roundtrip(v, t) == v


@pytest.mark.parametrize(
    ("t", "v"),
    [(int, "1"), (int, True), (int, 1.0), (float, "1.0"), (float, True), (str, 1), (bool, 1), (type(None), 0)],
)
async def test_scalars_reject_wrong_values(t, v):
    with pytest.raises(TypeTransformerError, match="Expected"):
        await TypeEngine.to_literal(v, t, TypeEngine.to_literal_type(t))


async def test_int_float_cross_reading():
    assert await TypeEngine.to_python_value(prim(float_value=3.0), int) == 3
    assert await TypeEngine.to_python_value(prim(integer=3), float) == 3.0
    assert await roundtrip(3, float) == 3.0
    with pytest.raises(TypeTransformerError, match="Cannot convert a string_value primitive literal to int"):
        await TypeEngine.to_python_value(prim(string_value="3"), int)


async def test_int_out_of_range():
    with pytest.raises(TypeTransformerError, match="64-bit"):
        await TypeEngine.to_literal(2**70, int, TypeEngine.to_literal_type(int))


def test_literal_type_is_a_copy():
    lt = TypeEngine.to_literal_type(int)
    lt.simple = types_pb2.SimpleType.STRING
    assert TypeEngine.to_literal_type(int).simple == types_pb2.SimpleType.INTEGER


# -- containers and unions -------------------------------------------------------------------


async def test_nested_containers():
    t = dict[str, list[Optional[dict[str, float]]]]
    v = {"a": [None, {"x": 1.0}], "b": []}
    assert await roundtrip(v, t) == v


async def test_container_errors_say_where():
    with pytest.raises(TypeTransformerError, match=r"item \[1\].*Expected int"):
        await TypeEngine.to_literal([1, "two"], list[int], TypeEngine.to_literal_type(list[int]))
    with pytest.raises(TypeTransformerError, match="keys must be str"):
        await TypeEngine.to_literal({1: 1}, dict[str, int], TypeEngine.to_literal_type(dict[str, int]))
    with pytest.raises(TypeTransformerError, match="Expected a list"):
        await TypeEngine.to_literal((1,), list[int], TypeEngine.to_literal_type(list[int]))


async def test_union_is_ambiguous_when_two_variants_fit():
    t = Union[list[int], list[str]]
    with pytest.raises(TypeTransformerError, match="ambiguous"):
        await TypeEngine.to_literal([], t, TypeEngine.to_literal_type(t))
    assert await roundtrip([1], t) == [1]
    assert await roundtrip(["a"], t) == ["a"]


async def test_union_picks_variant_by_tag_and_reads_untagged():
    t = Union[int, str]
    lit = await TypeEngine.to_literal("7", t, TypeEngine.to_literal_type(t))
    assert lit.scalar.union.type.structure.tag == "str"
    assert await TypeEngine.to_python_value(lit, t) == "7"
    # a plain (non-union) literal for an Optional input, as older writers send
    assert await TypeEngine.to_python_value(prim(integer=4), Optional[int]) == 4
    with pytest.raises(TypeTransformerError, match="fits none"):
        await TypeEngine.to_literal(1.5, t, TypeEngine.to_literal_type(t))


async def test_untyped_dict_and_non_str_keys():
    assert await roundtrip({"a": [1, {"b": None}]}, dict) == {"a": [1, {"b": None}]}
    assert await roundtrip({1: [2.0]}, dict[int, list[float]]) == {1: [2.0]}


# -- enums -----------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


async def test_enum_accepts_member_name_or_value():
    lt = TypeEngine.to_literal_type(Color)
    for v in (Color.BLUE, "BLUE", "blue"):
        lit = await TypeEngine.to_literal(v, Color, lt)
        assert lit.scalar.primitive.string_value == "BLUE"
    with pytest.raises(TypeTransformerError, match="not a member"):
        await TypeEngine.to_literal("green", Color, lt)
    with pytest.raises(TypeTransformerError, match="not a member"):
        await TypeEngine.to_python_value(prim(string_value="GREEN"), Color)


@pytest.mark.parametrize(("t", "msg"), [(Perm, "Flag enum"), (Floaty, "str-valued"), (Empty, "no members")])
def test_untransportable_enums(t, msg):
    with pytest.raises(TypeTransformerError, match=msg):
        TypeEngine.to_literal_type(t)


# -- structs ---------------------------------------------------------------------------------


async def test_dataclass_from_dict_applies_defaults():
    lit = await TypeEngine.to_literal({"x": 1}, Point, TypeEngine.to_literal_type(Point))
    assert await TypeEngine.to_python_value(lit, Point) == Point(1)
    with pytest.raises(TypeTransformerError, match="cannot build"):
        await TypeEngine.to_literal({"y": 1}, Point, TypeEngine.to_literal_type(Point))


async def test_dataclass_with_string_annotations():
    v = Holder([Point(1, 2, "a")], datetime.date(2020, 1, 1))
    assert await roundtrip(v, Holder) == v


async def test_dataclass_reads_a_protobuf_struct():
    from google.protobuf.struct_pb2 import Struct

    s = Struct()
    s.update({"x": 3, "label": "l"})
    lit = Literal(scalar=literals_pb2.Scalar(generic=s))
    assert await TypeEngine.to_python_value(lit, Point) == Point(3, 0, "l")


def test_dataclass_with_unsupported_field_fails_early():
    @dataclasses.dataclass
    class Bad:
        s: set[int]

    with pytest.raises(TypeTransformerError, match=r"set\[int\]"):
        TypeEngine.to_literal_type(Bad)


async def test_dataclass_rejects_other_binary_tags():
    lit = Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=b"x", tag="json")))
    with pytest.raises(TypeTransformerError, match="Unsupported binary format 'json'"):
        await TypeEngine.to_python_value(lit, Point)


async def test_pydantic_from_dict_and_errors():
    assert await roundtrip({"sides": 3}, Shape) == Shape(sides=3)
    with pytest.raises(TypeTransformerError, match="Cannot build"):
        await TypeEngine.to_literal({"sides": "many"}, Shape, TypeEngine.to_literal_type(Shape))
    with pytest.raises(TypeTransformerError, match="Expected"):
        await TypeEngine.to_literal(3, Shape, TypeEngine.to_literal_type(Shape))


# -- unsupported types and pickle ------------------------------------------------------------


class Opaque:
    def __init__(self, v: int) -> None:
        self.v = v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.v == self.v


@pytest.mark.parametrize(
    ("t", "hint"),
    [
        (set[int], r"Pickled\[set"),
        (list, r"list\[T\]"),
        (Any, r"Pickled\[Any\]"),
        (tuple, "item types"),
        (tuple[int, ...], "item types"),
        (Opaque, "Pickled"),
        (list[Opaque], "Pickled"),
        (dict[str, Any], r"Pickled\[Any\]"),
    ],
)
def test_unsupported_types_name_the_type_and_a_way_out(t, hint, monkeypatch):
    monkeypatch.setenv("FLYTE_TYPES_PICKLE", "error")  # by default such types travel pickled (test_pickle_fallback)
    with pytest.raises(TypeTransformerError, match=hint):
        TypeEngine.to_literal_type(t)


async def test_pickled_is_explicit_and_roundtrips():
    assert await roundtrip(Opaque(3), Pickled[Opaque]) == Opaque(3)
    assert await roundtrip({1, 2}, Pickled[set[int]]) == {1, 2}
    lt = TypeEngine.to_literal_type(Pickled[Opaque])
    assert lt.metadata["python_class_name"] == str(Opaque)
    assert await roundtrip(None, Optional[Pickled[Opaque]]) is None
    with pytest.raises(TypeTransformerError, match="Cannot pickle None"):
        await TypeEngine.to_literal(None, Pickled[Opaque], lt)


async def test_large_pickle_goes_to_raw_data_inside_a_run(tmp_path, run_context):
    big = list(range(5000))
    with run_context(tmp_path / "raw"):
        lit = await TypeEngine.to_literal(big, Pickled[list], TypeEngine.to_literal_type(Pickled[list]))
        assert lit.scalar.blob.uri.startswith(str(tmp_path / "raw"))
        assert lit.scalar.blob.metadata.type.format == "PythonPickle"
        assert await TypeEngine.to_python_value(lit, Pickled[list]) == big


async def test_bytes_reader_refuses_pickled_code():
    evil = Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=pickle.dumps(Opaque(1)))))
    with pytest.raises(TypeTransformerError, match="refusing to unpickle"):
        await TypeEngine.to_python_value(evil, bytes)
    not_bytes = Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=pickle.dumps([1]))))
    with pytest.raises(TypeTransformerError, match="holds list"):
        await TypeEngine.to_python_value(not_bytes, bytes)


# -- annotations, registration, plugins ------------------------------------------------------


class DecimalTransformer(TypeTransformer[decimal.Decimal]):
    def __init__(self, name: str = "decimal") -> None:
        super().__init__(name, decimal.Decimal)

    def get_literal_type(self, t):
        return types_pb2.LiteralType(simple=types_pb2.SimpleType.STRING)

    async def to_literal(self, v, t, expected):
        return prim(string_value=str(v))

    async def to_python_value(self, lv, t):
        return decimal.Decimal(lv.scalar.primitive.string_value)


async def test_annotated_metadata_is_ignored_unless_transformer():
    assert TypeEngine.to_literal_type(Annotated[int, "doc"]) == TypeEngine.to_literal_type(int)
    t = Annotated[decimal.Decimal, DecimalTransformer()]
    assert await roundtrip(decimal.Decimal("1.25"), t) == decimal.Decimal("1.25")


async def test_register_duplicate_and_override():
    tr = DecimalTransformer()
    TypeEngine.register(tr)
    try:
        assert TypeEngine.get_transformer(decimal.Decimal) is tr
        assert await roundtrip(decimal.Decimal("2"), Optional[decimal.Decimal]) == decimal.Decimal("2")
        with pytest.raises(TypeTransformerError, match="already has transformer 'decimal'"):
            TypeEngine.register(DecimalTransformer("other"))
        other = DecimalTransformer("other")
        TypeEngine.register(other, override=True)
        assert TypeEngine.get_transformer(decimal.Decimal) is other
    finally:
        TypeEngine.unregister(decimal.Decimal)
    assert TypeEngine.get_transformer(decimal.Decimal).name == "FlytePickle"  # the pickle fallback again


class PluginHooks:
    """A plugin object, as an entry point module would be."""

    calls = 0

    from flyte.plugins import hookimpl

    @hookimpl
    def flyte_type_transformers(self):
        PluginHooks.calls += 1
        return [DecimalTransformer("plugin-decimal")]


async def test_plugin_transformers_are_asked_on_a_miss_only():
    from flyte.plugins.manager import get_plugin_manager

    PluginHooks.calls = 0
    TypeEngine.to_literal_type(int)
    get_plugin_manager().register(PluginHooks(), "decimal-plugin")
    try:
        assert PluginHooks.calls == 0
        assert TypeEngine.get_transformer(decimal.Decimal).name == "plugin-decimal"
        assert await roundtrip([decimal.Decimal("3.5")], list[decimal.Decimal]) == [decimal.Decimal("3.5")]
        assert PluginHooks.calls == 1
    finally:
        get_plugin_manager().unregister("decimal-plugin")
    assert TypeEngine.get_transformer(decimal.Decimal).name == "FlytePickle"  # the plugin's plan is forgotten


async def test_offloaded_literal_is_read_from_storage(tmp_path):
    inner = prim(integer=11)
    p = tmp_path / "lit.pb"
    p.write_bytes(inner.SerializeToString())
    lit = Literal(offloaded_metadata=literals_pb2.LiteralOffloadedMetadata(uri=str(p)))
    assert await TypeEngine.to_python_value(lit, int) == 11


async def test_union_with_an_unknown_tag_tries_every_variant():
    t = Optional[int]
    lit = await TypeEngine.to_literal(5, t, TypeEngine.to_literal_type(t))
    lit.scalar.union.type.structure.tag = "something-else"
    assert await TypeEngine.to_python_value(lit, t) == 5


async def test_tuples_as_values():
    class P(typing.NamedTuple):
        a: int
        b: list[str]

    assert await roundtrip((1, "x"), tuple[int, str]) == (1, "x")
    assert await roundtrip(P(1, ["y"]), P) == P(1, ["y"])
    assert await roundtrip(None, Optional[tuple[int, int]]) is None
    with pytest.raises(TypeTransformerError, match="2 items"):
        await TypeEngine.to_literal((1,), tuple[int, str], TypeEngine.to_literal_type(tuple[int, str]))
    with pytest.raises(TypeTransformerError, match="does not fit"):
        await TypeEngine.to_literal((1, 2), tuple[int, Point], TypeEngine.to_literal_type(tuple[int, Point]))
    lt = TypeEngine.to_literal_type(Optional[P])
    assert lt.union_type.variants[0].structure.tag == "NamedTuple"


@dataclasses.dataclass
class Painted:
    color: Color = Color.RED


async def test_enum_fields_in_dataclasses():
    assert await roundtrip(Painted(Color.BLUE), Painted) == Painted(Color.BLUE)
    assert await roundtrip({"color": "blue"}, Painted) == Painted(Color.BLUE)
    lt = TypeEngine.to_literal_type(Painted)
    with pytest.raises(TypeTransformerError, match="not a member"):
        await TypeEngine.to_literal(Painted("green"), Painted, lt)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("t", "plain", "expected"),
    [
        (int, 3, 3),
        (list[int], [1, 2], [1, 2]),
        (dict[str, Point], {"a": {"x": 1}}, {"a": Point(1)}),
        (Optional[Color], "blue", Color.BLUE),
        (datetime.datetime, "2020-01-01T00:00:00+00:00", datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)),
    ],
)
async def test_msgpack_binary_from_attribute_access(t, plain, expected):
    import msgpack

    lit = Literal(scalar=literals_pb2.Scalar(binary=literals_pb2.Binary(value=msgpack.packb(plain), tag="msgpack")))
    assert await TypeEngine.to_python_value(lit, t) == expected


def test_guess_python_type():
    from flyte.io import Dir, File
    from flyte.types._literal import LITERAL_ENUM

    for t, guessed in [
        (int, int),
        (list[dict[str, float]], list[dict[str, float]]),
        (Optional[str], Optional[str]),
        (Point, dict),
        (Color, Annotated[typing.Literal["RED", "BLUE"], LITERAL_ENUM]),
        (typing.Literal["a", "b"], typing.Literal["a", "b"]),
        (File, File),
        (Dir, Dir),
        (datetime.timedelta, datetime.timedelta),
        (bytes, Pickled[Any]),
    ]:
        assert TypeEngine.guess_python_type(TypeEngine.to_literal_type(t)) == guessed
    with pytest.raises(TypeTransformerError, match="No Python type"):
        TypeEngine.guess_python_type(types_pb2.LiteralType())
