"""Command-line values are read through the task's interface and the type engine, exactly as the
same values over the wire, in the forms the official CLI accepts."""

from __future__ import annotations

import datetime as dt
import enum
import typing
import uuid
from dataclasses import dataclass
from typing import Any

import click
import pytest
from flyte.cli.params import EnumParam, InputParam, option_for, options_for
from flyte.cli.value_forms import format_duration, parse_bool, parse_datetime, parse_duration
from flyte.io import File
from flyte.types.interface import EMPTY, NativeInterface


@dataclass
class Window:
    start: dt.date
    length: dt.timedelta
    tags: list[str]
    note: str | None = None


@dataclass
class WithFile:
    f: File
    n: int


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"
    GREEN = "RED"  # a value that is another member's name: the name wins


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


def opt(t: Any, default: Any = EMPTY) -> click.Option:
    iface = NativeInterface.from_types("t", {"x": (t, default)})
    return option_for(iface.inputs["x"])


def read(t: Any, value: str) -> Any:
    o = opt(t)
    return o.type.convert(value, o, None)


def test_dataclass_with_date_timedelta_and_optional() -> None:
    o = opt(Window)
    assert isinstance(o.type, InputParam) and o.type.reading == "json"
    v = read(Window, '{"start": "2026-01-31", "length": 90, "tags": ["a"]}')
    assert v == Window(dt.date(2026, 1, 31), dt.timedelta(seconds=90), ["a"], None)


def test_partial_json_object_is_merged_over_the_default() -> None:
    o = opt(Window, Window(dt.date(2026, 1, 1), dt.timedelta(minutes=5), ["d"]))
    v = o.type.convert('{"tags": ["x"]}', o, None)
    assert v == Window(dt.date(2026, 1, 1), dt.timedelta(minutes=5), ["x"], None)


def test_json_from_a_yaml_or_json_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    y = tmp_path / "w.yaml"
    y.write_text("start: 2026-02-01\nlength: 60\ntags: [a, b]\n")
    assert read(Window, str(y)).tags == ["a", "b"]
    j = tmp_path / "l.json"
    j.write_text("[1, 2]")
    assert read(list[int], str(j)) == [1, 2]


def test_nested_file_and_list_of_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "x.txt"
    f.write_text("x")
    v = read(WithFile, f'{{"f": {{"path": "{f}"}}, "n": 2}}')
    assert isinstance(v.f, File) and v.f.path.endswith("x.txt") and v.n == 2
    files = read(list[File], f'["{f}", "{f}"]')
    assert [x.path for x in files] == [str(f), str(f)]
    assert read(File, str(f)).path == str(f)
    with pytest.raises(click.BadParameter, match="does not exist"):
        read(File, str(tmp_path / "missing.txt"))
    with pytest.raises(click.BadParameter, match="is a directory"):
        read(File, str(tmp_path))


def test_collections_optionals_and_unions() -> None:
    assert read(dict[str, list[int]], '{"a": [1, 2]}') == {"a": [1, 2]}
    assert read(list[int | None], "[1, null]") == [1, None]
    assert read(int | None, "3") == 3
    assert read(int | str, "3") == 3 and read(int | str, "three") == "three"
    assert read(str | list[int], "[1, 2]") == [1, 2] and read(str | list[int], "abc") == "abc"
    o = opt(int | None)
    assert not o.required


def test_enum_by_name_and_by_value() -> None:
    o = opt(Color)
    assert isinstance(o.type, EnumParam)
    assert list(o.type.choices) == ["RED", "BLUE", "GREEN"]
    assert o.type.convert("BLUE", o, None) is Color.BLUE
    assert o.type.convert("blue", o, None) is Color.BLUE  # a value, unambiguous
    assert o.type.convert("RED", o, None) is Color.RED  # name of RED and value of GREEN: the name
    assert o.type.convert("GREEN", o, None) is Color.GREEN
    with pytest.raises(click.BadParameter, match="'purple' is not one of RED, BLUE, GREEN"):
        o.type.convert("purple", o, None)
    assert read(Level, "HIGH") is Level.HIGH and read(Level, "1") is Level.LOW
    assert read(Color | None, "BLUE") is Color.BLUE
    assert read(typing.Literal["a", "b"], "b") == "b"
    assert read(typing.Literal[1, 2], "2") == 2


def test_enum_default_is_shown_by_name() -> None:
    o = opt(Color, Color.BLUE)
    assert "[default: BLUE]" in (o.help or "") and not o.required


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("30", dt.timedelta(seconds=30)),
        ("1.5", dt.timedelta(seconds=1.5)),
        ("500ms", dt.timedelta(milliseconds=500)),
        ("5m", dt.timedelta(minutes=5)),
        ("2h", dt.timedelta(hours=2)),
        ("1d", dt.timedelta(days=1)),
        ("1h30m", dt.timedelta(hours=1, minutes=30)),
        ("PT5M", dt.timedelta(minutes=5)),
        ("P1DT2H", dt.timedelta(days=1, hours=2)),
        ("PT1.5S", dt.timedelta(seconds=1.5)),
        ("P2W", dt.timedelta(weeks=2)),
        ("pt30s", dt.timedelta(seconds=30)),
        ("1:24", dt.timedelta(minutes=1, seconds=24)),
        (":45", dt.timedelta(seconds=45)),
        ("1:02:03", dt.timedelta(hours=1, minutes=2, seconds=3)),
        ("10 days", dt.timedelta(days=10)),
        ("1 minute", dt.timedelta(minutes=1)),
        ("[1:24|10 days]", dt.timedelta(days=10, minutes=1, seconds=24)),
    ],
)
def test_duration_forms(text: str, expect: dt.timedelta) -> None:
    assert parse_duration(text) == expect
    assert read(dt.timedelta, text) == expect
    assert parse_duration(format_duration(expect)) == expect


@pytest.mark.parametrize("bad", ["P", "PT", "5 parsecs", "1h 2", "abc", "P1H", ""])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(bad)
    with pytest.raises(click.BadParameter, match="is not a duration"):
        read(dt.timedelta, bad)


def test_datetime_and_date_forms() -> None:
    utc = dt.UTC
    assert read(dt.datetime, "2026-01-31T12:00:00") == dt.datetime(2026, 1, 31, 12, tzinfo=utc)
    assert read(dt.datetime, "2026-01-31 12:00:00") == dt.datetime(2026, 1, 31, 12, tzinfo=utc)
    assert read(dt.datetime, "2026-01-31") == dt.datetime(2026, 1, 31, tzinfo=utc)
    assert read(dt.datetime, "2026-01-31T12:00:00 - P1D") == dt.datetime(2026, 1, 30, 12, tzinfo=utc)
    assert read(dt.datetime, "2026-01-31 + 6h") == dt.datetime(2026, 1, 31, 6, tzinfo=utc)
    now = read(dt.datetime, "now")
    assert abs((dt.datetime.now(utc) - now).total_seconds()) < 5
    week_ago = read(dt.datetime, "now - P7D")
    assert abs((now - week_ago) - dt.timedelta(days=7)) < dt.timedelta(seconds=5)
    assert read(dt.date, "2026-01-31") == dt.date(2026, 1, 31)
    assert read(dt.date, "today") == dt.date.today()
    assert read(dt.date, "2026-03-01 - P1D") == dt.date(2026, 2, 28)
    assert parse_datetime("today") == dt.datetime.combine(dt.date.today(), dt.time.min)
    with pytest.raises(click.BadParameter, match="is not a datetime"):
        read(dt.datetime, "yesterday-ish")
    with pytest.raises(click.BadParameter, match="is not a duration"):
        read(dt.datetime, "now - soon")


@pytest.mark.parametrize(("text", "value"), [("true", True), ("YES", True), ("y", True), ("on", True), ("1", True),
                                             ("t", True), ("false", False), ("No", False), ("off", False),
                                             ("0", False), ("f", False), ("n", False)])
def test_boolean_forms(text: str, value: bool) -> None:
    assert parse_bool(text) is value
    assert read(bool | None, text) is value
    assert read(list[bool], f'["{text}"]') == [value]


def test_bool_is_a_flag_pair_and_optional_bool_takes_a_value() -> None:
    o = opt(bool, True)
    assert o.is_flag and "--no-x" in o.secondary_opts and o.default is True
    assert opt(bool).default is False and not opt(bool).required
    assert not opt(bool | None).is_flag


@pytest.mark.parametrize(
    ("t", "value", "message"),
    [
        (Window, '{"start": "2026-01-31", "length": 90, "tags": "a"}', "tags"),
        (list[int], '[1, "two"]', "[1]: expected an integer"),
        (dict[str, float], '{"a": "x"}', "expected a number"),
        (Window, "not json", "is not valid JSON"),
        (int, "three", "expected an integer"),
    ],
)
def test_errors_say_which_part_did_not_fit(t: object, value: str, message: str) -> None:
    import re

    with pytest.raises(click.BadParameter, match=re.escape(message)):
        read(t, value)


def test_options_come_from_the_interface_not_the_signature() -> None:
    # an interface built from types alone (no function to re-read) drives the options
    iface = NativeInterface.from_types("t", {"n": int, "my_color": (Color, Color.RED), "when": (dt.timedelta, EMPTY)})
    opts = {o.name: o for o in options_for(iface)}
    assert list(opts) == ["n", "my_color", "when"]
    assert opts["n"].required and opts["n"].metavar == "int"
    assert "--my-color" in opts["my_color"].opts and "--my_color" in opts["my_color"].opts
    assert opts["when"].type.name == "duration"


def test_types_from_plugins_are_read_from_plain_strings() -> None:
    import flyte_example_plugin.hooks as hooks
    from flyte.plugins.manager import get_plugin_manager

    get_plugin_manager().register(hooks, "example")
    try:
        u = uuid.uuid4()
        assert read(uuid.UUID, str(u)) == u
    finally:
        get_plugin_manager().unregister("example")


def test_pickled_inputs_name_a_python_object(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from flyte.types import Pickled

    (tmp_path / "mydata.py").write_text("TABLE = {1, 2, 3}\n")
    monkeypatch.chdir(tmp_path)
    assert read(Pickled[set[int]], "mydata:TABLE") == {1, 2, 3}
    with pytest.raises(click.BadParameter, match="name a Python object as MODULE:NAME"):
        read(Pickled[set[int]], "{1, 2}")
    with pytest.raises(click.BadParameter, match="module 'mydata' has no 'NOPE'"):
        read(Pickled[set[int]], "mydata:NOPE")
