"""Which input and output types a sandboxed task may have: what the sandbox can hold."""

from __future__ import annotations

import dataclasses
import sys
import types
from typing import Any

from flyte.errors import SandboxError
from flyte.io import Dir, File

# -- types ----------------------------------------------------------------------------------


def check_types(task: Any, where: str = "") -> None:
    """Inputs and outputs must be values the sandbox can hold: primitives, lists, dicts, records, File/Dir.

    ``where`` (``file.py:LINE`` of the task's ``def``) is named in the error.
    """
    for kind, params in (("input", task.interface.inputs), ("output", task.interface.outputs)):
        for name, p in params.items():
            bad = _unsupported(p.python_type, set())
            if bad is not None:
                raise SandboxError(
                    f"Task '{task.name}' cannot run in the sandbox{f' ({where})' if where else ''}: {kind} '{name}' "
                    "has type "
                    f"{_type_name(p.python_type)}"
                    f"{'' if bad is p.python_type else f' (containing {_type_name(bad)})'}, which the sandbox cannot "
                    "hold; use primitives, lists, dicts, dataclasses or flyte.io.File/Dir"
                )


def _unsupported(t: Any, seen: set[int]) -> Any:
    import datetime
    import typing

    if t in (int, float, str, bool, bytes, type(None), None, datetime.datetime, datetime.date, datetime.timedelta,
             typing.Any, list, dict, tuple):
        return None
    origin = typing.get_origin(t)
    if origin is typing.Annotated:
        return _unsupported(typing.get_args(t)[0], seen)
    if origin in (list, dict, tuple, typing.Union, types.UnionType, set, frozenset):
        for a in typing.get_args(t):
            if a is Ellipsis:
                continue
            bad = _unsupported(a, seen)
            if bad is not None:
                return bad
        return None
    if origin is typing.Literal:
        return None
    if isinstance(t, type):
        if _is_blob(t):
            return None
        if is_record_class(t):
            if id(t) in seen:
                return None
            seen.add(id(t))
            for ft in _record_field_types(t):
                bad = _unsupported(ft, seen)
                if bad is not None:
                    return bad
            return None
    return t


def _record_field_types(t: type) -> list[Any]:
    import typing

    try:
        hints = typing.get_type_hints(t)
    except Exception:
        hints = {}
    if dataclasses.is_dataclass(t):
        return [hints.get(f.name, Any) for f in dataclasses.fields(t)]
    fields = getattr(t, "model_fields", None)
    if isinstance(fields, dict):
        return [getattr(f, "annotation", Any) for f in fields.values()]
    return []


def _is_blob(t: type) -> bool:
    return issubclass(t, (File, Dir))


def _is_pydantic_model(t: type) -> bool:
    pydantic = sys.modules.get("pydantic")  # a model class exists only if pydantic was imported
    return pydantic is not None and issubclass(t, pydantic.BaseModel) and t is not pydantic.BaseModel


def is_record_class(t: type) -> bool:
    if dataclasses.is_dataclass(t):
        return True
    return _is_pydantic_model(t) or _is_blob(t)


def _type_name(t: Any) -> str:
    return getattr(t, "__qualname__", None) or repr(t)
