"""Turn a task's signature into click options, and CLI strings into typed Python values."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import inspect
import json
import types
import typing
from typing import Any

import click


def _unwrap_optional(t: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(t)) == 2:
            return args[0], True
    return t, False


def type_label(t: Any) -> str:
    if t is inspect.Parameter.empty:
        return "any"
    if isinstance(t, type) and not typing.get_args(t):
        return t.__name__
    return str(t).replace("typing.", "")


def _is_pydantic(t: Any) -> bool:
    return isinstance(t, type) and hasattr(t, "model_validate") and hasattr(t, "model_fields")


class JsonParam(click.ParamType):
    """A JSON value (lists, dicts, dataclasses, pydantic models), read the way the wire reads it."""

    name = "json"

    def __init__(self, t: Any) -> None:
        self.t = t

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            raw = json.loads(value)
        except ValueError as e:
            self.fail(f"{value!r} is not valid JSON ({e}); expected {type_label(self.t)}", param, ctx)
        from flyte.cli.json_literals import CliValueError, to_python

        try:
            return to_python(raw, self.t, "value")
        except CliValueError as e:
            self.fail(f"{value!r} does not fit: {e}", param, ctx)


class LiteralStringParam(click.ParamType):
    """Any other type the type engine carries as a primitive (e.g. ``uuid.UUID`` from a plugin)."""

    def __init__(self, t: Any) -> None:
        self.t = t
        self.name = type_label(t)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        from flyte.cli.json_literals import CliValueError, to_python

        try:
            return to_python(value, self.t, "value")
        except CliValueError as e:
            self.fail(str(e), param, ctx)


def parse_duration(value: Any, where: str = "value") -> dt.timedelta:
    """Seconds (``30``) or a number with a unit (``500ms``, ``30s``, ``5m``, ``2h``, ``1d``)."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    s = str(value).strip().lower()
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        for suffix in ("ms", "s", "m", "h", "d"):
            if s.endswith(suffix):
                return dt.timedelta(seconds=float(s[: -len(suffix)]) * units[suffix])
        return dt.timedelta(seconds=float(s))
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a duration (e.g. 30, 30s, 5m, 2h)") from None


class DurationParam(click.ParamType):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return parse_duration(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


class DateParam(click.ParamType):
    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date (YYYY-MM-DD)", param, ctx)


class DateTimeParam(click.ParamType):
    name = "datetime"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dt.datetime):
            return value
        s = str(value)
        if s == "now":
            return dt.datetime.now()
        try:
            return dt.datetime.fromisoformat(s)
        except ValueError:
            self.fail(f"{value!r} is not a datetime (ISO 8601, e.g. 2026-01-31T12:00:00)", param, ctx)


class PathValueParam(click.ParamType):
    """A local path or remote URL for File/Dir inputs."""

    def __init__(self, t: Any, is_dir: bool) -> None:
        self.t = t
        self.is_dir = is_dir
        self.name = "dir" if is_dir else "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        from flyte.storage import is_remote

        if is_remote(value):
            return self.t.from_existing_remote(value)
        import os

        if not os.path.exists(value):
            self.fail(f"{value!r} does not exist", param, ctx)
        if self.is_dir != os.path.isdir(value):
            self.fail(f"{value!r} is {'not ' if self.is_dir else ''}a directory", param, ctx)
        return self.t.from_local_sync(value)


def param_type_for(t: Any) -> click.ParamType:
    t, _ = _unwrap_optional(t)
    if t is bool:
        return click.BOOL
    if t is int:
        return click.INT
    if t is float:
        return click.FLOAT
    if t is str:
        return click.STRING
    if t is dt.datetime:
        return DateTimeParam()
    if t is dt.date:
        return DateParam()
    if t is dt.timedelta:
        return DurationParam()
    if isinstance(t, type) and issubclass(t, enum.Enum):
        return click.Choice([str(m.value) for m in t])
    name = getattr(t, "__name__", "")
    mod = getattr(t, "__module__", "")
    if mod.startswith("flyte.io") and name in ("File", "Dir"):
        return PathValueParam(t, is_dir=name == "Dir")
    if typing.get_origin(t) is typing.Literal:
        return click.Choice([str(a) for a in typing.get_args(t)])
    origin = typing.get_origin(t)
    if (
        origin in (list, dict, tuple)
        or dataclasses.is_dataclass(t)
        or _is_pydantic(t)
        or t in (list, dict)
    ):
        return JsonParam(t)
    return LiteralStringParam(t)


def options_for(func: Any) -> list[click.Option]:
    """One ``--name`` option per task input: typed, with its default, required when it has none."""
    sig = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        hints = {}
    opts = []
    for pname, p in sig.parameters.items():
        t = hints.get(pname, p.annotation)
        ptype = param_type_for(t)
        _, optional = _unwrap_optional(t)
        has_default = p.default is not inspect.Parameter.empty
        default = p.default if has_default else None
        shown_default: Any = None
        if has_default:
            if isinstance(default, enum.Enum):
                default = str(default.value)
            shown_default = _json_default(default) if isinstance(ptype, JsonParam) and default is not None else default
        is_json = isinstance(ptype, JsonParam)
        base_t, _ = _unwrap_optional(t)
        if base_t is bool:
            # --flag / --no-flag, as the official CLI spells booleans.
            opt = click.Option(
                [f"--{pname}/--no-{pname}"],
                default=bool(default) if has_default and default is not None else False,
                show_default=has_default,
                help="bool",
            )
            opt._flyte_has_default = True  # type: ignore[attr-defined]
            opts.append(opt)
            continue
        extra: dict[str, Any] = {}
        if has_default and not is_json:
            # Only pass a default when there is one: click >= 8.3 treats default=None as "given".
            extra["default"] = default
        opt = click.Option(
            [f"--{pname}"],
            type=ptype,
            required=not has_default and not optional,
            show_default=(str(shown_default) if is_json else True) if has_default else False,
            metavar=type_label(t),
            help="JSON" if is_json else None,
            **extra,
        )
        opt._flyte_has_default = has_default  # type: ignore[attr-defined]
        opts.append(opt)
    return opts


def _json_default(v: Any) -> str:
    try:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return json.dumps(dataclasses.asdict(v))
        if hasattr(v, "model_dump"):
            return json.dumps(v.model_dump(mode="json"))
        return json.dumps(v)
    except (TypeError, ValueError):
        return repr(v)


def coerce_enum_args(func: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Turn Choice strings back into Enum members and Literal values into their declared form."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        return values
    out = dict(values)
    for k, v in values.items():
        t, _ = _unwrap_optional(hints.get(k))
        if isinstance(t, type) and issubclass(t, enum.Enum) and isinstance(v, str):
            for m in t:
                if str(m.value) == v:
                    out[k] = m
        elif typing.get_origin(t) is typing.Literal and isinstance(v, str):
            for a in typing.get_args(t):
                if str(a) == v:
                    out[k] = a
    return out
