"""Python values <-> msgpack-ready plain data, compiled once per type.

The official SDK encodes dataclasses (and dicts that are not ``dict[str, T]``) with
mashumaro's msgpack codec. This module produces the same plain structure without
mashumaro: fields in declaration order; ``datetime``/``date`` as ISO strings;
``timedelta`` as float seconds; enums by *value*; bytes as msgpack bin; ``File``/``Dir``
as ``{"path", "name", "format", "hash"}``; nested dataclasses as maps.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

from flyte.types._blob import UPLOADED, BlobRef, is_blob_type
from flyte.types._literal import find_member, literal_members
from flyte.types._transformer import fail, type_repr, value_repr

__all__ = ["UPLOADED", "Codec", "codec_for", "collect_blobs", "dataclass_fields"]

ToPlain = Callable[[Any], Any]
FromPlain = Callable[[Any], Any]

@dataclasses.dataclass
class Codec:
    to_plain: ToPlain
    from_plain: FromPlain
    has_io: bool = False  # holds File/Dir, whose local paths must be uploaded first


def _ident(x: Any) -> Any:
    return x


def _checked(*kinds: type, name: str) -> FromPlain:
    def dec(x: Any) -> Any:
        if not isinstance(x, kinds) or (bool not in kinds and isinstance(x, bool)):
            raise fail(f"expected {name}, got {type(x).__name__} {value_repr(x)}")
        return x

    return dec


def _int(x: Any) -> int:
    if type(x) is int:
        return x
    if isinstance(x, float) and x.is_integer():  # JSON numbers from the UI arrive as floats
        return int(x)
    if isinstance(x, int) and not isinstance(x, bool):
        return int(x)
    raise fail(f"expected int, got {type(x).__name__} {value_repr(x)}")


def _literal_codec(t: Any) -> Codec:
    """A Literal field: its plain value, checked against the allowed values both ways."""
    members = literal_members(t)

    def to_plain(v: Any) -> Any:
        return find_member(t, members, v)

    def from_plain(x: Any) -> Any:
        if isinstance(x, float) and x.is_integer() and any(type(m) is int for m in members):
            x = int(x)  # JSON numbers from the UI arrive as floats
        return find_member(t, members, x)

    return Codec(to_plain, from_plain)


def _bytes(x: Any) -> bytes:
    if isinstance(x, (bytes, bytearray)):
        return bytes(x)
    raise fail(f"expected bytes, got {type(x).__name__}")


_cache: dict[Any, Codec] = {}
_building: set[Any] = set()


def codec_for(t: Any) -> Codec:
    """The (cached) codec for ``t``; raises TypeTransformerError for a type msgpack cannot carry."""
    try:
        return _cache[t]
    except KeyError:
        pass
    except TypeError:
        return _build(t)
    if t in _building:
        return _late(t)
    _building.add(t)
    try:
        c = _build(t)
    finally:
        _building.discard(t)
    _cache[t] = c
    return c


def _late(t: Any) -> Codec:
    """A codec for a recursive type, resolved on first use."""
    return Codec(lambda v: _cache[t].to_plain(v), lambda x: _cache[t].from_plain(x), has_io=False)


def _is_union(t: Any) -> bool:
    o = typing.get_origin(t)
    return o is typing.Union or o is types.UnionType


def _build(t: Any) -> Codec:
    if typing.get_origin(t) is typing.Annotated:
        return codec_for(typing.get_args(t)[0])
    if t is typing.Any:
        return Codec(_ident, _ident)
    if t is None or t is type(None):
        return Codec(_ident, _ident)
    if t is bool:
        return Codec(_ident, _checked(bool, name="bool"))
    if t is int:
        return Codec(_ident, _int)
    if t is float:
        return Codec(_ident, _checked(int, float, name="float"))
    if t is str:
        return Codec(_ident, _checked(str, name="str"))
    if t is bytes:
        return Codec(_ident, _bytes)
    if t is _dt.datetime:
        return Codec(lambda v: v.isoformat(), _dt.datetime.fromisoformat)
    if t is _dt.date:
        return Codec(lambda v: v.isoformat(), _dt.date.fromisoformat)
    if t is _dt.timedelta:
        return Codec(lambda v: v.total_seconds(), lambda x: _dt.timedelta(seconds=x))
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin is typing.Literal:
        return _literal_codec(t)
    if isinstance(t, type) and issubclass(t, enum.Enum):
        return _enum_codec(t)
    if t is dict or t is list:
        return Codec(_ident, _ident)
    if origin is list:
        return _list_codec(codec_for(args[0]))
    if origin is dict:
        return _dict_codec(codec_for(args[0]), codec_for(args[1]))
    if _is_union(t):
        return _union_codec(t, [codec_for(a) for a in args])
    if isinstance(t, type):
        if is_blob_type(t):
            return _blob_codec(t)
        if dataclasses.is_dataclass(t):
            return _dataclass_codec(t)
        if "pydantic" in sys.modules:
            from pydantic import BaseModel

            if issubclass(t, BaseModel):
                return Codec(lambda v: v.model_dump(mode="json"), t.model_validate)
    raise fail(f"{type_repr(t)} cannot be carried inside a dataclass or untyped dict")


def _enum_codec(t: Any) -> Codec:
    def to_plain(v: Any) -> Any:
        if isinstance(v, t):
            return v.value
        try:
            return (t[v] if isinstance(v, str) and v in t.__members__ else t(v)).value
        except ValueError:
            raise fail(f"{value_repr(v)} is not a member of {type_repr(t)}") from None

    def from_plain(x: Any) -> Any:
        try:
            return t(x)
        except ValueError:
            raise fail(f"{value_repr(x)} is not a value of {type_repr(t)}") from None

    return Codec(to_plain, from_plain)


def _list_codec(item: Codec) -> Codec:
    enc, dec = item.to_plain, item.from_plain
    if enc is _ident and dec is _ident:
        return Codec(list, list)

    def to_plain(v: Any) -> Any:
        return [enc(x) for x in v]

    def from_plain(x: Any) -> Any:
        if not isinstance(x, list):
            raise fail(f"expected a list, got {type(x).__name__}")
        return [dec(y) for y in x]

    return Codec(to_plain, from_plain, item.has_io)


def _dict_codec(key: Codec, val: Codec) -> Codec:
    ke, kd, ve, vd = key.to_plain, key.from_plain, val.to_plain, val.from_plain

    def to_plain(v: Any) -> Any:
        return {ke(k): ve(x) for k, x in v.items()}

    def from_plain(x: Any) -> Any:
        if not isinstance(x, dict):
            raise fail(f"expected a map, got {type(x).__name__}")
        return {kd(k): vd(y) for k, y in x.items()}

    return Codec(to_plain, from_plain, val.has_io or key.has_io)


def _union_codec(t: Any, parts: list[Codec]) -> Codec:
    args = typing.get_args(t)
    nullable = type(None) in args
    exact = {a: c for a, c in zip(args, parts, strict=True) if isinstance(a, type) and not typing.get_args(a)}

    def to_plain(v: Any) -> Any:
        if v is None and nullable:
            return None
        c = exact.get(type(v))
        if c is not None:
            return c.to_plain(v)
        for p in parts:
            try:
                return p.to_plain(v)
            except Exception:
                continue
        raise fail(f"{value_repr(v)} fits none of {type_repr(t)}")

    def from_plain(x: Any) -> Any:
        if x is None and nullable:
            return None
        for p in parts:
            try:
                return p.from_plain(x)
            except Exception:
                continue
        raise fail(f"{value_repr(x)} fits none of {type_repr(t)}")

    return Codec(to_plain, from_plain, any(p.has_io for p in parts))


def _blob_codec(t: Any) -> Codec:
    def to_plain(v: Any) -> Any:
        if not isinstance(v, t):
            raise fail(f"expected {t.__name__}, got {type(v).__name__}")
        uploaded = UPLOADED.get()
        path = uploaded.get(id(v), v.path) if uploaded else v.path
        return {"path": path, "name": v.name, "format": v.format, "hash": v.hash}

    def from_plain(x: Any) -> Any:
        if not isinstance(x, dict) or "path" not in x:
            raise fail(f"expected a {t.__name__} map with a 'path', got {value_repr(x)}")
        return t(path=x["path"], name=x.get("name"), format=x.get("format") or "", hash=x.get("hash"))

    return Codec(to_plain, from_plain, has_io=True)


def dataclass_fields(t: type) -> list[tuple[dataclasses.Field[Any], Any]]:
    """(field, resolved type) of a dataclass, in declaration order; string annotations resolved."""
    try:
        hints = typing.get_type_hints(t, include_extras=True)
    except Exception as e:
        raise fail(f"cannot resolve the field types of {type_repr(t)}: {e}") from e
    return [(f, hints.get(f.name, f.type)) for f in dataclasses.fields(t)]


def _dataclass_codec(t: type) -> Codec:
    fields = [(f.name, codec_for(ft), f.init) for f, ft in dataclass_fields(t)]
    names = [n for n, _, _ in fields]

    def to_plain(v: Any) -> Any:
        if not isinstance(v, t):
            raise fail(f"expected {type_repr(t)}, got {type(v).__name__} {value_repr(v)}")
        out = {}
        for name, c, _ in fields:
            try:
                out[name] = c.to_plain(getattr(v, name))
            except Exception as e:
                raise fail(f"field {type_repr(t)}.{name}: {e}") from e
        return out

    def from_plain(x: Any) -> Any:
        if not isinstance(x, dict):
            raise fail(f"expected a map for {type_repr(t)}, got {type(x).__name__}")
        kwargs = {}
        for name, c, init in fields:
            if init and name in x:
                try:
                    kwargs[name] = c.from_plain(x[name])
                except Exception as e:
                    raise fail(f"field {type_repr(t)}.{name}: {e}") from e
        try:
            return t(**kwargs)
        except TypeError as e:
            raise fail(f"cannot build {type_repr(t)} from fields {sorted(x)} (expected {names}): {e}") from e

    return Codec(to_plain, from_plain, any(c.has_io for _, c, _ in fields))


def collect_blobs(v: Any, out: list[Any]) -> None:
    """Every File/Dir instance reachable from ``v`` (dataclasses, lists, dicts, tuples)."""
    if isinstance(v, BlobRef):
        out.append(v)
    elif isinstance(v, (list, tuple)):
        for x in v:
            collect_blobs(x, out)
    elif isinstance(v, dict):
        for x in v.values():
            collect_blobs(x, out)
    elif dataclasses.is_dataclass(v) and not isinstance(v, type):
        for f in dataclasses.fields(v):
            collect_blobs(getattr(v, f.name), out)
    elif "pydantic" in sys.modules and hasattr(type(v), "__pydantic_fields__"):
        for name in type(v).__pydantic_fields__:
            collect_blobs(getattr(v, name, None), out)
