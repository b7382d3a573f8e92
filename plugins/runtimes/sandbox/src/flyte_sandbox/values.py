"""Values across the sandbox boundary.

Primitives, lists, tuples, dicts and sets cross as they are. Records (dataclasses,
pydantic models) and ``flyte.io.File``/``Dir`` cross as read-only host objects
(pydantic-monty ``ClassInstance``): the body reads their fields, and returning one
hands the host back the very same object. A record class the body constructs is a
host class (``ClassType``), so what it builds is a real instance.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pydantic_monty
from flyte.io import Dir, File

from flyte_sandbox.rules import MODEL_METHODS

_SCALARS = (int, float, str, bool, bytes, type(None))
_class_types: dict[type, Any] = {}


def needs_wrapping(t: Any) -> bool:
    """Whether values of annotation ``t`` may hold records (otherwise they cross untouched)."""
    if t in _SCALARS or t in (list, dict, tuple, typing.Any):
        return False
    origin = typing.get_origin(t)
    if origin is not None:
        return any(needs_wrapping(a) for a in typing.get_args(t) if a is not Ellipsis)
    return isinstance(t, type) and not issubclass(t, _SCALARS)


def _eager_fields(cls: type) -> tuple[str, ...] | str:
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls) if not f.name.startswith("_"))
    model_fields = getattr(cls, "model_fields", None)
    if isinstance(model_fields, dict):
        return tuple(model_fields)
    if issubclass(cls, (File, Dir)):
        return ("path", "name", "format", "hash")
    return "all"


_record_type_class: Any = None


def _record_class_type() -> Any:
    """A ``ClassType`` whose instances' fields cross wrapped too: a record nested in a record (directly or in a
    list, dict or Optional field) reaches the body as a record, not as a value pydantic-monty cannot convert.
    (``ClassInstance.convert_value`` defers to its class type's, for host-sent and body-built instances alike.)"""
    global _record_type_class
    if _record_type_class is None:
        import pydantic_monty

        class RecordType(pydantic_monty.ClassType):
            def convert_value(self, /, name: str, value: Any) -> Any:
                return to_sandbox(value)

        _record_type_class = RecordType
    return _record_type_class


def class_type(cls: type) -> Any:
    """The pydantic-monty ``ClassType`` for a record class (one per class, so ids stay stable)."""
    ct = _class_types.get(cls)
    if ct is None:
        fields = _eager_fields(cls)
        methods = MODEL_METHODS if isinstance(getattr(cls, "model_fields", None), dict) else None
        ct = _record_class_type()(cls, init=True, instance_eager_attrs=fields, instance_allowed_methods=methods)
        _class_types[cls] = ct
    return ct


def to_sandbox(value: Any) -> Any:
    """Wrap records (recursively) so they can cross; everything else is returned as is."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list):
        return [to_sandbox(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_sandbox(v) for v in value)
    if isinstance(value, dict):
        return {k: to_sandbox(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return type(value)(to_sandbox(v) for v in value)
    cls = type(value)
    if dataclasses.is_dataclass(value) or hasattr(cls, "model_fields") or isinstance(value, (File, Dir)):
        ct = class_type(cls)
        return pydantic_monty.ClassInstance(value, eager_attrs=ct.instance_eager_attrs,
                                            allowed_methods=ct.instance_allowed_methods, class_type=ct)
    return value


def from_sandbox(value: Any, t: Any) -> Any:
    """Rebuild records the body defined itself (they come back as proxies) as the annotated type."""
    if isinstance(value, _SCALARS) or t is typing.Any:
        return value
    if isinstance(value, pydantic_monty.MontyClassProxy):
        target = _record_type(t)
        if target is not None:
            attrs = {k: from_sandbox(v, _field_type(target, k)) for k, v in value.attributes.items()}
            return target(**attrs)
        return value
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if isinstance(value, list) and origin is list and args:
        return [from_sandbox(v, args[0]) for v in value]
    if isinstance(value, dict) and origin is dict and len(args) == 2:
        return {k: from_sandbox(v, args[1]) for k, v in value.items()}
    if isinstance(value, tuple) and origin is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_sandbox(v, args[0]) for v in value)
        return tuple(from_sandbox(v, a) for v, a in zip(value, args, strict=False))
    return value


def _record_type(t: Any) -> type | None:
    if isinstance(t, type) and (dataclasses.is_dataclass(t) or hasattr(t, "model_fields")):
        return t
    for a in typing.get_args(t):  # Optional[Record]
        r = _record_type(a)
        if r is not None:
            return r
    return None


def _field_type(cls: type, name: str) -> Any:
    try:
        return typing.get_type_hints(cls).get(name, typing.Any)
    except Exception:
        return typing.Any
