# ruff: noqa: UP007, UP045  (typing.Optional/Union on purpose: they must behave like X | Y)
"""Values and types shared by make_golden.py (run with the official SDK) and the tests (ours).

Nothing here imports flyte: each side passes its own File/Dir classes and its pickle marker,
so the same case list describes the same wire values for both SDKs.
"""

import dataclasses
import datetime
import enum
import typing
from typing import Annotated, Literal, NamedTuple, Optional, Union

import pydantic

UTC = datetime.UTC


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Num(enum.IntEnum):
    ONE = 1
    TWO = 2


@dataclasses.dataclass
class Inner:
    x: int
    y: str = "a"


@dataclasses.dataclass
class Everything:
    a: int
    b: float
    c: list[int]
    d: dict[str, Inner]
    e: str | None = None
    f: Color = Color.RED
    g: datetime.datetime = datetime.datetime(2020, 1, 1, 12, 30)
    h: datetime.timedelta = datetime.timedelta(seconds=3)
    i: bytes = b"x"
    j: datetime.date = datetime.date(2020, 1, 2)
    k: bool = False
    n: Num = Num.ONE
    u: int | str = 0
    o: Inner | None = None
    m: dict[int, str] = dataclasses.field(default_factory=dict)
    l: list[Inner] = dataclasses.field(default_factory=list)  # noqa: E741


class PInner(pydantic.BaseModel):
    z: float
    tags: list[str] = []


class Model(pydantic.BaseModel):
    a: int
    c: Color = Color.GREEN
    colors: list[Color] = []
    o: str | None = None
    inner: PInner | None = None
    when: datetime.datetime | None = None
    counts: dict[str, int] = {}


class Pair(NamedTuple):
    total: int
    label: str


@dataclasses.dataclass
class WithLiteral:
    mode: Literal["a", "b"] = "a"
    n: Literal[1, 2] = 1
    o: Optional[Literal["x", "y"]] = None
    l: list[Literal[1, 2]] = dataclasses.field(default_factory=list)  # noqa: E741


class PLiteral(pydantic.BaseModel):
    mode: Literal["a", "b"] = "a"
    n: Literal[1, 2] = 1
    o: Optional[Literal["x", "y"]] = None


class LitPair(NamedTuple):
    kind: Literal["x", "y"]
    n: int


def build(File, Dir, pickled):
    """[(case id, python type, value, expected value after a round trip, literal bytes comparable)]."""

    @dataclasses.dataclass
    class WithFiles:
        f: File
        d: Dir
        name: str = "n"
        more: list[File] | None = None

    class ModelWithFile(pydantic.BaseModel):
        f: File
        note: str = ""

    s3f = File.from_existing_remote("s3://bucket/path/data.csv")
    s3d = Dir.from_existing_remote("s3://bucket/some/dir")
    naive = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456)
    aware = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    plus2 = datetime.datetime(2024, 5, 6, 9, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    everything = Everything(
        a=1,
        b=2.5,
        c=[1, 2],
        d={"k": Inner(3)},
        e="e",
        f=Color.GREEN,
        n=Num.TWO,
        u="u",
        o=Inner(4, "b"),
        m={1: "one"},
        l=[Inner(5)],
    )
    model = Model(
        a=1,
        c=Color.RED,
        colors=[Color.GREEN, Color.RED],
        o="x",
        inner=PInner(z=2.5, tags=["t"]),
        when=aware,
        counts={"a": 1},
    )
    c = [
        ("int", int, 42, 42, True),
        ("int_neg", int, -7, -7, True),
        ("int_big", int, 2**53 + 1, 2**53 + 1, True),
        ("float", float, 1.5, 1.5, True),
        ("float_neg", float, -0.25, -0.25, True),
        ("str", str, "hello", "hello", True),
        ("str_empty", str, "", "", True),
        ("str_unicode", str, "ünïcødé ✓", "ünïcødé ✓", True),
        ("bool_true", bool, True, True, True),
        ("bool_false", bool, False, False, True),
        ("none", type(None), None, None, True),
        ("datetime_aware", datetime.datetime, aware, aware, True),
        ("datetime_naive", datetime.datetime, naive, naive.replace(tzinfo=UTC), True),
        ("datetime_offset", datetime.datetime, plus2, plus2, True),
        ("date", datetime.date, datetime.date(2024, 2, 29), datetime.date(2024, 2, 29), True),
        ("timedelta", datetime.timedelta, datetime.timedelta(days=1, seconds=3, microseconds=5), None, True),
        ("bytes", bytes, b"\x00\x01abc", b"\x00\x01abc", True),
        ("list_int", list[int], [1, 2, 3], [1, 2, 3], True),
        ("list_str_empty", list[str], [], [], True),
        ("list_list_int", list[list[int]], [[1], [2, 3]], [[1], [2, 3]], True),
        ("list_optional_int", list[int | None], [1, None], [1, None], True),
        ("dict_str_int", dict[str, int], {"a": 1, "b": 2}, {"a": 1, "b": 2}, True),
        ("dict_str_list_float", dict[str, list[float]], {"x": [1.0, 2.5]}, {"x": [1.0, 2.5]}, True),
        ("dict_untyped", dict, {"a": 1, "b": [1, 2], "c": {"d": "e"}}, None, True),
        ("dict_str_int_empty", dict[str, int], {}, {}, True),
        ("dict_str_optional", dict[str, float | None], {"a": None, "b": 1.0}, {"a": None, "b": 1.0}, True),
        ("dict_untyped_empty", dict, {}, {}, True),
        ("dict_int_str", dict[int, str], {1: "a", 2: "b"}, {1: "a", 2: "b"}, True),
        ("optional_int_value", Optional[int], 3, 3, True),
        ("optional_int_none", Optional[int], None, None, True),
        ("pep604_optional", int | None, 5, 5, True),
        ("union_int_str_str", Union[int, str], "x", "x", True),
        ("union_int_str_int", Union[int, str], 7, 7, True),
        ("optional_list", Optional[list[int]], [1], [1], True),
        ("optional_dataclass", Optional[Inner], Inner(9), Inner(9), True),
        ("union_dataclass_int", Union[Inner, int], Inner(2, "z"), Inner(2, "z"), True),
        ("enum_str", Color, Color.GREEN, Color.GREEN, True),
        ("list_enum", list[Color], [Color.RED, Color.GREEN], [Color.RED, Color.GREEN], True),
        ("optional_enum", Optional[Color], Color.RED, Color.RED, True),
        ("union_list_or_str", Union[list[int], str], [1, 2], [1, 2], True),
        ("union_three", Union[int, str, None], None, None, True),
        ("optional_datetime", Optional[datetime.datetime], aware, aware, True),
        ("enum_int", Num, Num.TWO, Num.TWO, True),
        ("dataclass_inner", Inner, Inner(1), Inner(1), True),
        ("dataclass_everything", Everything, everything, everything, True),
        ("list_dataclass", list[Inner], [Inner(1), Inner(2, "q")], [Inner(1), Inner(2, "q")], True),
        ("dict_dataclass", dict[str, Inner], {"a": Inner(1)}, {"a": Inner(1)}, True),
        ("pydantic_inner", PInner, PInner(z=1.5), PInner(z=1.5), True),
        ("pydantic_model", Model, model, model, True),
        ("optional_pydantic", Optional[PInner], PInner(z=3.0), PInner(z=3.0), True),
        ("file_remote", File, s3f, s3f, True),
        ("file_hash", File, File.from_existing_remote("s3://b/x.bin", "abc123"), None, True),
        ("dir_remote", Dir, s3d, s3d, True),
        ("list_file", list[File], [s3f, File.from_existing_remote("gs://g/y.txt")], None, True),
        ("optional_file", Optional[File], s3f, s3f, True),
        ("dataclass_with_files", WithFiles, WithFiles(f=s3f, d=s3d, more=[s3f]), None, True),
        ("pydantic_with_file", ModelWithFile, ModelWithFile(f=s3f, note="n"), None, True),
        ("tuple_int_str", tuple[int, str], (1, "a"), (1, "a"), True),
        ("tuple_nested", tuple[float, list[int], Optional[str]], (1.5, [1], None), (1.5, [1], None), True),
        ("named_tuple", Pair, Pair(3, "x"), Pair(3, "x"), True),
        ("optional_tuple", Optional[tuple[int, int]], (1, 2), (1, 2), True),
        ("pickled_set", pickled(set[int]), {3, 1, 2}, {1, 2, 3}, False),
        # typing.Literal: the official SDK pickles it (outside a task signature's top level)
        ("literal_str", Literal["a", "b"], "b", "b", True),
        ("literal_int", Literal[1, 2], 2, 2, True),
        ("literal_bool", Literal[True, False], False, False, True),
        ("literal_mixed", Literal["a", 1], 1, 1, True),
        ("optional_literal_value", Optional[Literal["a", "b"]], "a", "a", True),
        ("optional_literal_none", Optional[Literal["a", "b"]], None, None, True),
        ("list_literal", list[Literal["x", "y"]], ["y", "x"], ["y", "x"], True),
        ("dict_literal", dict[str, Literal[1, 2]], {"k": 1}, {"k": 1}, True),
        ("annotated_literal", Annotated[Literal["a", "b"], "doc"], "a", "a", True),
        ("dataclass_literal", WithLiteral, WithLiteral("b", 2, "y", [1, 2]), None, True),
        ("dataclass_literal_defaults", WithLiteral, WithLiteral(), None, True),
        ("pydantic_literal", PLiteral, PLiteral(mode="b", n=2, o="x"), None, True),
        ("named_tuple_literal", LitPair, LitPair("y", 3), None, True),
    ]
    return [(cid, t, v, v if exp is None else exp, same) for cid, t, v, exp, same in c]


# -- task signatures for TypedInterface comparison -----------------------------------------


def fn_basic(a: int, b: str = "x", c: list[float] | None = None) -> tuple[int, str]:
    return a, b


def fn_named(x: Everything, y: Color, z: Literal["fast", "slow"] = "fast") -> Pair:
    return Pair(1, "a")


def fn_none(x: dict, y: dict[str, Inner], when: datetime.datetime) -> None:
    return None


def fn_single(m: Model, n: Num | None = None) -> list[dict[str, int]]:
    return []


def fn_literal(
    a: Literal["fast", "slow"],
    b: Literal[1, 2] = 2,
    c: Optional[Literal["p", "q"]] = None,
    d: Literal[True] = True,
    e: Literal["u", 3] = "u",
    f: list[Literal["x", "y"]] | None = None,
    g: WithLiteral | None = None,
) -> tuple[Literal["ok", "bad"], Literal[0, 1]]:
    return "ok", 0


def fn_literal_out(m: PLiteral) -> LitPair:
    return LitPair("x", 1)


def fn_literal_single(x: int = 1) -> Literal["x", "y"]:
    return "x"


def interface_functions(File, Dir):
    def fn_files(f: File, d: Dir | None = None) -> File:
        return f

    return {
        "fn_basic": fn_basic,
        "fn_named": fn_named,
        "fn_none": fn_none,
        "fn_single": fn_single,
        "fn_files": fn_files,
        "fn_literal": fn_literal,
        "fn_literal_out": fn_literal_out,
        "fn_literal_single": fn_literal_single,
    }


def interface_calls():
    """{function name: the keyword arguments of one call}: each input's literal is compared across SDKs."""
    return {
        "fn_literal": {
            "a": "slow",
            "b": 1,
            "c": "q",
            "d": True,
            "e": 3,
            "f": ["y"],
            "g": WithLiteral("b", 2, None, [2]),
        },
        "fn_literal_out": {"m": PLiteral(mode="b")},
    }


__all__ = ["build", "interface_calls", "interface_functions", "typing"]
