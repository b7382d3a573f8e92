"""Command-line values are read through the type engine, exactly as the same values over the wire."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import click
import pytest
from flyte.cli.params import JsonParam, LiteralStringParam, param_type_for
from flyte.io import File


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


def test_dataclass_with_date_timedelta_and_optional() -> None:
    p = param_type_for(Window)
    assert isinstance(p, JsonParam)
    v = p.convert('{"start": "2026-01-31", "length": 90, "tags": ["a"]}', None, None)
    assert v == Window(dt.date(2026, 1, 31), dt.timedelta(seconds=90), ["a"], None)


def test_nested_file_and_list_of_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "x.txt"
    f.write_text("x")
    v = param_type_for(WithFile).convert(f'{{"f": {{"path": "{f}"}}, "n": 2}}', None, None)
    assert isinstance(v.f, File) and v.f.path.endswith("x.txt") and v.n == 2
    files = param_type_for(list[File]).convert(f'["{f}", "{f}"]', None, None)
    assert [x.path for x in files] == [str(f), str(f)]


def test_collections_and_optionals() -> None:
    assert param_type_for(dict[str, list[int]]).convert('{"a": [1, 2]}', None, None) == {"a": [1, 2]}
    assert param_type_for(list[int | None]).convert("[1, null]", None, None) == [1, None]


@pytest.mark.parametrize(
    ("t", "value", "message"),
    [
        (Window, '{"start": "2026-01-31", "length": 90, "tags": "a"}', "tags"),
        (list[int], '[1, "two"]', "[1]: expected an integer"),
        (dict[str, float], '{"a": "x"}', "expected a number"),
        (Window, "not json", "is not valid JSON"),
    ],
)
def test_errors_say_which_part_did_not_fit(t: object, value: str, message: str) -> None:
    import re

    with pytest.raises(click.BadParameter, match=re.escape(message)):
        param_type_for(t).convert(value, None, None)


def test_types_from_plugins_are_read_from_plain_strings() -> None:
    import flyte_example_plugin.hooks as hooks
    from flyte.plugins.manager import get_plugin_manager

    get_plugin_manager().register(hooks, "example")
    try:
        p = param_type_for(uuid.UUID)
        assert isinstance(p, LiteralStringParam)
        u = uuid.uuid4()
        assert p.convert(str(u), None, None) == u
    finally:
        get_plugin_manager().unregister("example")
