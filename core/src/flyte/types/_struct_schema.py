"""JSON schema of a dataclass, shaped like the one the official SDK stores in ``metadata``.

The official SDK builds it with mashumaro (draft 2020-12, nested dataclasses inlined,
``additionalProperties: false``). Readers use it to rebuild a type when the class is not
importable; the bytes on the wire do not depend on it.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import enum
import sys
import types
import typing
from typing import Any

from flyte.types._blob import blob_schema, is_blob_type
from flyte.types._msgpack_codec import dataclass_fields
from flyte.types._transformer import fail, type_repr

_SIMPLE: dict[Any, dict[str, Any]] = {
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    bytes: {"type": "string", "format": "base64"},
    _dt.datetime: {"type": "string", "format": "date-time"},
    _dt.date: {"type": "string", "format": "date"},
    _dt.timedelta: {"type": "number", "format": "time-delta"},
}


def json_default(v: Any) -> Any:
    """A field default as the schema shows it."""
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, (bytes, bytearray)):
        return base64.encodebytes(bytes(v)).decode()
    if isinstance(v, (_dt.datetime, _dt.date)):
        return v.isoformat()
    if isinstance(v, _dt.timedelta):
        return v.total_seconds()
    if isinstance(v, (list, tuple)):
        return [json_default(x) for x in v]
    if isinstance(v, dict):
        return {str(k): json_default(x) for k, x in v.items()}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: json_default(getattr(v, f.name)) for f in dataclasses.fields(v)}
    return v


def schema_of(t: Any) -> dict[str, Any]:
    if typing.get_origin(t) is typing.Annotated:
        return schema_of(typing.get_args(t)[0])
    s = _SIMPLE.get(t)
    if s is not None:
        return dict(s)
    if t is None:
        return {"type": "null"}
    if t is typing.Any:
        return {}
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin is typing.Literal:
        return {"enum": list(args)}
    if t is list:
        return {"type": "array"}
    if t is dict:
        return {"type": "object"}
    if origin is list:
        return {"type": "array", "items": schema_of(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": schema_of(args[1]), "propertyNames": schema_of(args[0])}
    if origin is typing.Union or origin is types.UnionType:
        return {"anyOf": [schema_of(a) for a in args]}
    if isinstance(t, type):
        if issubclass(t, enum.Enum):
            return {"enum": [m.value for m in t]}
        if is_blob_type(t):
            blob: Any = t
            return blob_schema(blob._schema_title, blob._schema_description)
        if dataclasses.is_dataclass(t):
            return dataclass_schema(t)
        if "pydantic" in sys.modules:
            from pydantic import BaseModel

            if issubclass(t, BaseModel):
                return t.model_json_schema()
    raise fail(f"{type_repr(t)} has no JSON schema")


def dataclass_schema(t: type) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required: list[str] = []
    for f, ft in dataclass_fields(t):
        p = schema_of(ft)
        if f.default is not dataclasses.MISSING:
            p["default"] = json_default(f.default)
        elif f.default_factory is dataclasses.MISSING:
            required.append(f.name)
        props[f.name] = p
    out: dict[str, Any] = {"type": "object", "title": t.__name__, "additionalProperties": False, "properties": props}
    if required:
        out["required"] = required
    return out
