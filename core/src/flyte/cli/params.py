"""Click options from a task's ``NativeInterface``; every value is read through the type engine.

Each input's option is chosen by one dispatch on the input's flyteidl2 ``LiteralType`` (what the
type engine declared for it at decoration), and every value typed on the command line goes the
way the same value comes over the wire: text or JSON -> ``Literal`` of that type -> Python value
through the input's own plan. The Python type is consulted only where the literal type does not
say enough: an Enum's values (its literal type lists member names) and a pickled ``Literal[...]``.
"""

from __future__ import annotations

import enum
import json
import os
import typing
from typing import Any

import click

from flyte.cli.json_literals import CliValueError, decode, to_literal
from flyte.cli.value_forms import DATETIME_HINT, DURATION_HINT, format_duration

if typing.TYPE_CHECKING:
    from flyte.types.interface import NativeInterface, Param

# How a command-line string is read before it becomes a literal.
TEXT = "text"  # the string itself (numbers, strings, durations, datetimes, booleans, plugin scalars)
JSON = "json"  # JSON, or a path to a .json/.yaml file holding it (lists, dicts, dataclasses, models)
JSON_OR_TEXT = "json-or-text"  # unions: JSON when it parses and fits, the plain string otherwise


def type_label(t: Any) -> str:
    """A short name for an annotation: ``int``, ``list[float]``, ``datetime | None``, ``Literal['a', 'b']``."""
    import types

    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin is typing.Annotated:
        return type_label(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join("None" if a is type(None) else type_label(a) for a in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(map(repr, args))}]"
    if origin is not None and args:
        return f"{type_label(origin)}[{', '.join(type_label(a) for a in args)}]"
    if isinstance(t, type):
        return t.__name__
    return str(t).replace("typing.", "")


def _kind(lt: Any) -> str:
    return str(lt.WhichOneof("type") or "")


def _simple_name(lt: Any) -> str | None:
    if _kind(lt) != "simple":
        return None
    from flyteidl2.core.types_pb2 import SimpleType

    return str(SimpleType.Name(lt.simple))


def _is_pickle(lt: Any) -> bool:
    return _kind(lt) == "union_type" and any(
        _kind(v) == "blob" and v.blob.format == "PythonPickle" for v in lt.union_type.variants
    )


def _needs_json(lt: Any) -> bool:
    kind = _kind(lt)
    if kind in ("collection_type", "map_value_type"):
        return True
    if kind == "union_type":
        return any(_needs_json(v) for v in lt.union_type.variants)
    return _simple_name(lt) == "STRUCT"


def _unprefixed(message: str) -> str:
    """Click already names the option ("Invalid value for '--n': ..."); keep only where inside it."""
    return message.removeprefix("value: ").removeprefix("value")


class InputParam(click.ParamType):
    """One task input: a command-line string -> ``Literal`` of the input's type -> Python value."""

    def __init__(self, plan: Any, python_type: Any, reading: str, label: str, default: Any = None) -> None:
        self.plan = plan
        self.python_type = python_type
        self.reading = reading
        self.name = label
        self.default = default  # a dataclass/model default: JSON objects given are merged over it

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return decode(self._literal(value, "value"), self.plan, "value")
        except CliValueError as e:
            self.fail(_unprefixed(str(e)), param, ctx)

    def _literal(self, value: str, where: str) -> Any:
        lt = self.plan.literal_type
        if self.reading == TEXT:
            return to_literal(value, lt, where)
        if self.reading == JSON_OR_TEXT:
            try:
                raw = json.loads(value)
            except ValueError:
                return to_literal(value, lt, where)
            try:
                return to_literal(raw, lt, where)
            except CliValueError:
                return to_literal(value, lt, where)
        raw = self._json(value, where)
        if isinstance(raw, dict) and self.default is not None:
            raw = {**self.default, **raw}
        return to_literal(raw, lt, where)

    def _json(self, value: str, where: str) -> Any:
        try:
            return json.loads(value)
        except ValueError as e:
            if os.path.isfile(value):  # the official CLI also takes a JSON or YAML file
                return _load_file(value, where)
            raise CliValueError(
                f"{where}: {value!r} is not valid JSON ({e}); expected {type_label(self.python_type)}"
                " as JSON or a .json/.yaml file"
            ) from None


def _load_file(path: str, where: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            if path.endswith((".yaml", ".yml")):
                import yaml

                # YAML reads dates and times as objects: as text they read like the same JSON value
                return json.loads(json.dumps(yaml.safe_load(f), default=str))
            return json.load(f)
    except (OSError, ValueError) as e:
        raise CliValueError(f"{where}: cannot read {path}: {e}") from None
    except Exception as e:  # yaml.YAMLError
        raise CliValueError(f"{where}: {path} is not valid YAML: {e}") from None


class PathParam(InputParam):
    """``File``/``Dir``: a local path (must exist) or a remote URL."""

    def __init__(self, plan: Any, python_type: Any, is_dir: bool) -> None:
        super().__init__(plan, python_type, TEXT, "dir" if is_dir else "file")
        self.is_dir = is_dir

    def _literal(self, value: str, where: str) -> Any:
        from flyte.storage import is_remote

        if not is_remote(value):
            if not os.path.exists(value):
                raise CliValueError(f"{where}: {value!r} does not exist")
            if self.is_dir != os.path.isdir(value):
                raise CliValueError(f"{where}: {value!r} is {'not ' if self.is_dir else ''}a directory")
            value = os.path.abspath(value)
        return to_literal(value, self.plan.literal_type, where)

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(incomplete, type="dir" if self.is_dir else "file")]


class EnumParam(click.Choice):
    """An Enum (or top-level ``Literal["a", "b"]``) by member name, as the official CLI reads it.

    A member's value is accepted too; a string that is one member's name and another's value
    means the name (as in the official CLI).
    """

    def __init__(self, plan: Any, python_type: Any) -> None:
        names = list(plan.literal_type.enum_type.values)
        super().__init__(names)
        self.plan = plan
        self.aliases: dict[str, str] = {}
        if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
            for alias, member in python_type.__members__.items():
                self.aliases.setdefault(alias, member.name)
            for member in python_type:
                self.aliases.setdefault(str(member.value), member.name)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, enum.Enum):
            return value
        s = str(value)
        name = s if s in self.choices else self.aliases.get(s)
        if name is None:
            shown = ", ".join(map(str, self.choices))
            values = [v for v, n in self.aliases.items() if v != n and v not in self.choices]
            extra = f" (or their values: {', '.join(values)})" if values else ""
            self.fail(f"{s!r} is not one of {shown}{extra}", param, ctx)
        try:
            return decode(to_literal(name, self.plan.literal_type, "value"), self.plan, "value")
        except CliValueError as e:
            self.fail(_unprefixed(str(e)), param, ctx)


class LiteralChoiceParam(click.Choice):
    """A top-level ``Literal[1, 2]`` (non-string members travel pickled): one of the members."""

    def __init__(self, plan: Any, members: tuple[Any, ...]) -> None:
        super().__init__([str(m) for m in members])
        self.plan = plan
        self.members = {str(m): m for m in members}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = super().convert(value, param, ctx)
        member = self.members.get(str(text), text)
        try:
            if self.plan.encode is not None:
                return decode(self.plan.encode(member), self.plan, "value")
            from flyte._syncify import run_sync

            return decode(run_sync(self.plan.to_literal, member), self.plan, "value")
        except (CliValueError, TypeError, ValueError) as e:
            self.fail(_unprefixed(str(e)), param, ctx)


class PickleParam(click.ParamType):
    """A pickled input (``Pickled[T]``, ``Any``): ``MODULE:NAME`` names a Python object to pass, as in the
    official CLI; the object is imported (the current folder is on the path) and pickled by the type engine."""

    name = "module:object"

    def __init__(self, plan: Any) -> None:
        self.plan = plan

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        module_name, _, attr = value.partition(":")
        if not module_name or not attr:
            self.fail(f"{value!r}: this input is pickled; name a Python object as MODULE:NAME (e.g. mydata:TABLE)",
                      param, ctx)
        import importlib
        import sys

        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            obj = getattr(importlib.import_module(module_name), attr)
        except ImportError as e:
            self.fail(f"cannot import module {module_name!r}: {e}", param, ctx)
        except AttributeError:
            self.fail(f"module {module_name!r} has no {attr!r}", param, ctx)
        from flyte._syncify import run_sync

        try:
            return decode(run_sync(self.plan.to_literal, obj), self.plan, "value")
        except (CliValueError, TypeError, ValueError) as e:
            self.fail(_unprefixed(str(e)), param, ctx)


_TEXT_LABELS = {
    "INTEGER": "int", "FLOAT": "float", "STRING": "str", "BOOLEAN": "bool",
    "DATETIME": "datetime", "DURATION": "duration",
}


def click_type_for(plan: Any, python_type: Any, default: Any = None) -> click.ParamType:
    """The one type dispatch: the click type that reads a value of ``plan.literal_type``."""
    lt = plan.literal_type
    kind = _kind(lt)
    if kind == "enum_type":
        return EnumParam(plan, python_type)
    if _is_pickle(lt):
        base = typing.get_origin(python_type)
        if base is typing.Literal:
            return LiteralChoiceParam(plan, typing.get_args(python_type))
        return PickleParam(plan)
    if kind == "blob":
        from flyteidl2.core.types_pb2 import BlobType

        return PathParam(plan, python_type, lt.blob.dimensionality == BlobType.BlobDimensionality.MULTIPART)
    if kind == "union_type":
        reading = JSON_OR_TEXT if _needs_json(lt) else TEXT
        return InputParam(plan, python_type, reading, type_label(python_type))
    if _needs_json(lt):
        return InputParam(plan, python_type, JSON, type_label(python_type), _struct_default(plan, default))
    label = _TEXT_LABELS.get(_simple_name(lt) or "") or type_label(python_type)
    if label == "datetime" and python_type is not None and getattr(python_type, "__name__", "") == "date":
        label = "date"
    return InputParam(plan, python_type, TEXT, label)


def _struct_default(plan: Any, default: Any) -> dict[str, Any] | None:
    """A dataclass/model default as a JSON-like dict (through its own literal), to merge partial objects over."""
    if default is None or isinstance(default, dict | list) or plan.encode is None:
        return None
    try:
        lit = plan.encode(default)
        if lit.scalar.binary.tag != "msgpack":
            return None
        import msgpack

        value = msgpack.unpackb(lit.scalar.binary.value, strict_map_key=False)
    except Exception:
        return None
    return value if isinstance(value, dict) else None


def _optional_inner(param: Param) -> tuple[Any, Any] | None:
    """(plan, type) of X when the input is ``Optional[X]`` (a union of X and None), else None."""
    lt = param.literal_type
    if _kind(lt) != "union_type":
        return None
    variants = list(lt.union_type.variants)
    if len(variants) != 2 or not any(_simple_name(v) == "NONE" for v in variants):
        return None
    args = [a for a in typing.get_args(param.python_type) if a is not type(None)]
    if len(args) != 1:
        return None
    from flyte.types import TypeEngine

    try:
        return TypeEngine.plan(args[0]), args[0]
    except Exception:
        return None


def _shown_default(default: Any, ptype: click.ParamType) -> str:
    import datetime as dt

    if isinstance(default, enum.Enum):
        return default.name
    if isinstance(default, dt.timedelta):
        return format_duration(default)
    if isinstance(default, dt.date):
        return default.isoformat()
    if isinstance(ptype, InputParam) and ptype.reading != TEXT and default is not None:
        # compact: one word for the help's wrapping, and ready to paste
        if ptype.default is not None:
            return json.dumps(ptype.default, default=str, separators=(",", ":"))
        try:
            return json.dumps(default, default=str, separators=(",", ":"))
        except (TypeError, ValueError):
            return repr(default)
    return str(default)


def _help(ptype: click.ParamType) -> str | None:
    if isinstance(ptype, EnumParam):
        return "by name; values also accepted" if any(v != n for v, n in ptype.aliases.items()) else None
    if not isinstance(ptype, InputParam) or isinstance(ptype, PathParam):
        return "local path or URL" if isinstance(ptype, PathParam) else None
    if ptype.reading == JSON:
        return "JSON, or a .json/.yaml file"
    if ptype.reading == JSON_OR_TEXT:
        return "JSON or text"
    if ptype.name == "duration":
        return DURATION_HINT
    if ptype.name in ("datetime", "date"):
        return DATETIME_HINT
    return None


def _known_default(param: Param) -> Any:
    """The default as a Python value; a deployed task's (known only as a literal) decoded for display."""
    from flyte.types.interface import _LiteralDefault

    d = param.default
    if type(d) is _LiteralDefault and param.plan.decode is not None:
        try:
            return param.plan.decode(d.literal)
        except Exception:
            return d
    return d


def option_for(param: Param) -> click.Option:
    """The ``--name`` option of one task input: typed, with its default shown, required when it has none."""
    from flyte.types.interface import EMPTY

    name = param.name
    decls = [f"--{name}"]
    if "_" in name:
        decls.append(f"--{name.replace('_', '-')}")
    has_default = param.default is not EMPTY
    default = _known_default(param) if has_default else None
    if _simple_name(param.literal_type) == "BOOLEAN":
        # --flag / --no-flag; the official CLI's --flag (and --no-flag when the default is true) both work
        opt = click.Option(
            [f"{d}/--no-{d[2:]}" for d in decls] + [name],
            default=bool(default) if has_default else False,
            show_default=has_default,
            help="bool",
        )
        return opt
    inner = _optional_inner(param)
    plan, ptype_t = inner if inner is not None else (param.plan, param.python_type)
    ptype = click_type_for(plan, ptype_t, default)
    text = _help(ptype) or ""
    if has_default:
        # shown by hand: the default is not given to click, so the runner applies the task's own
        text = f"{text}  [default: {_shown_default(default, ptype)}]".strip()
    return click.Option(
        [*decls, name],
        type=ptype,
        required=not has_default and inner is None,
        metavar=None if isinstance(ptype, click.Choice) else type_label(param.python_type),
        help=text or None,
    )


def options_for(iface: NativeInterface) -> list[click.Option]:
    """One option per input of the task's interface, in signature order."""
    return [option_for(p) for p in iface.inputs.values()]


def inputs_from_options(iface: NativeInterface, ctx: click.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments to run the task with: what was given, and what the interface does not default.

    An input not given on the command line is left out when the task has a default for it (the
    runner applies it, as for ``flyte.run``); an ``Optional`` input without one is None.
    """
    from click.core import ParameterSource

    from flyte.types.interface import EMPTY

    out: dict[str, Any] = {}
    for name, p in iface.inputs.items():
        v = values.get(name)
        source = ctx.get_parameter_source(name)
        given = source not in (None, ParameterSource.DEFAULT)
        if given:
            out[name] = v
        elif p.default is not EMPTY:
            continue
        else:
            out[name] = v  # an Optional input without a default: None; a bool without one: False
    return out


__all__ = ["click_type_for", "inputs_from_options", "option_for", "options_for"]
