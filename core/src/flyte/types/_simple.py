"""Scalars: bool, int, float, str, None, datetime, date, timedelta.

Each transformer hands the engine synchronous converters, so a task with scalar
inputs never awaits anything to move its arguments.

Wire facts (official SDK 2.12.1): datetimes are protobuf Timestamps (naive values are
taken as UTC, decoded values are UTC-aware); a ``date`` is the Timestamp of its midnight
and its LiteralType is DATETIME too; ``timedelta`` is a Duration; ``None`` is ``Void``.
An integer literal is accepted for ``float`` and a float literal for ``int``, as the
official SDK does for values edited in the UI.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from flyteidl2.core.literals_pb2 import Literal
from flyteidl2.core.types_pb2 import LiteralType, SimpleType

from flyte.types._transformer import Decoder, Encoder, TypeTransformer, fail, type_repr, value_repr

_UTC = _dt.UTC


def _kind(lit: Literal) -> str:
    """What a literal holds, for error messages."""
    which = lit.WhichOneof("value")
    if which == "scalar":
        s = lit.scalar.WhichOneof("value")
        if s == "primitive":
            return f"a {lit.scalar.primitive.WhichOneof('value')} primitive"
        return f"a {s} scalar"
    return f"a {which}" if which else "an empty literal"


def _mismatch(lit: Literal, expected: str) -> Exception:
    return fail(f"Cannot convert {_kind(lit)} literal to {expected}")


def _wrong_value(v: Any, expected: str) -> Exception:
    return fail(f"Expected {expected}, got {type(v).__name__} {value_repr(v)}")


class _Simple(TypeTransformer[Any]):
    simple: int = 0

    def __init__(self, name: str, t: Any) -> None:
        super().__init__(name, t)
        self._lt = LiteralType(simple=self.simple)

    def get_literal_type(self, t: Any = None) -> LiteralType:
        return self._lt


# -- bool / int / float / str ------------------------------------------------------------


def _enc_bool(v: Any) -> Literal:
    if v is not True and v is not False:
        raise _wrong_value(v, "bool")
    lit = Literal()
    lit.scalar.primitive.boolean = v
    return lit


def _dec_bool(lit: Literal) -> bool:
    p = lit.scalar.primitive
    if p.WhichOneof("value") != "boolean":
        raise _mismatch(lit, "bool")
    return p.boolean


def _enc_int(v: Any) -> Literal:
    if type(v) is not int:
        if not isinstance(v, int) or isinstance(v, bool):
            raise _wrong_value(v, "int")
        v = int(v)
    lit = Literal()
    try:
        lit.scalar.primitive.integer = v
    except ValueError:
        raise fail(f"int {v} does not fit the 64-bit integer literal") from None
    return lit


def _dec_int(lit: Literal) -> int:
    p = lit.scalar.primitive
    k = p.WhichOneof("value")
    if k == "integer":
        return p.integer
    if k == "float_value":
        return int(p.float_value)
    raise _mismatch(lit, "int")


def _enc_float(v: Any) -> Literal:
    if type(v) is not float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _wrong_value(v, "float")
        v = float(v)
    lit = Literal()
    lit.scalar.primitive.float_value = v
    return lit


def _dec_float(lit: Literal) -> float:
    p = lit.scalar.primitive
    k = p.WhichOneof("value")
    if k == "float_value":
        return p.float_value
    if k == "integer":
        return float(p.integer)
    raise _mismatch(lit, "float")


def _enc_str(v: Any) -> Literal:
    if type(v) is not str:
        if not isinstance(v, str):
            raise _wrong_value(v, "str")
        v = str(v)
    lit = Literal()
    lit.scalar.primitive.string_value = v
    return lit


def _dec_str(lit: Literal) -> str:
    p = lit.scalar.primitive
    if p.WhichOneof("value") != "string_value":
        raise _mismatch(lit, "str")
    return p.string_value


def _enc_none(v: Any) -> Literal:
    if v is not None:
        raise _wrong_value(v, "None")
    lit = Literal()
    lit.scalar.none_type.SetInParent()
    return lit


def _dec_none(lit: Literal) -> None:
    if not lit.scalar.HasField("none_type"):
        raise _mismatch(lit, "None")
    return None


class _Prim(_Simple):
    def __init__(self, name: str, t: Any, simple: int, enc: Encoder, dec: Decoder) -> None:
        self.simple = simple
        super().__init__(name, t)
        self._enc = enc
        self._dec = dec

    def sync_encoder(self, t: Any, lt: LiteralType) -> Encoder:
        return self._enc

    def sync_decoder(self, t: Any) -> Decoder:
        return self._dec


BOOL = _Prim("bool", bool, SimpleType.BOOLEAN, _enc_bool, _dec_bool)
INT = _Prim("int", int, SimpleType.INTEGER, _enc_int, _dec_int)
FLOAT = _Prim("float", float, SimpleType.FLOAT, _enc_float, _dec_float)
STR = _Prim("str", str, SimpleType.STRING, _enc_str, _dec_str)
NONE = _Prim("none", type(None), SimpleType.NONE, _enc_none, _dec_none)


# -- datetime / date / timedelta ----------------------------------------------------------


def _enc_datetime(v: Any) -> Literal:
    if not isinstance(v, _dt.datetime):
        raise _wrong_value(v, "datetime")
    lit = Literal()
    lit.scalar.primitive.datetime.FromDatetime(v)
    return lit


def _dec_datetime(lit: Literal) -> _dt.datetime:
    p = lit.scalar.primitive
    if p.WhichOneof("value") != "datetime":
        raise _mismatch(lit, "datetime")
    return p.datetime.ToDatetime(tzinfo=_UTC)


def _enc_date(v: Any) -> Literal:
    if not isinstance(v, _dt.date) or isinstance(v, _dt.datetime):
        raise _wrong_value(v, "date")
    lit = Literal()
    lit.scalar.primitive.datetime.FromDatetime(_dt.datetime.combine(v, _dt.time.min))
    return lit


def _dec_date(lit: Literal) -> _dt.date:
    return _dec_datetime(lit).date()


def _enc_timedelta(v: Any) -> Literal:
    if not isinstance(v, _dt.timedelta):
        raise _wrong_value(v, "timedelta")
    lit = Literal()
    lit.scalar.primitive.duration.FromTimedelta(v)
    return lit


def _dec_timedelta(lit: Literal) -> _dt.timedelta:
    p = lit.scalar.primitive
    if p.WhichOneof("value") != "duration":
        raise _mismatch(lit, "timedelta")
    return p.duration.ToTimedelta()


DATETIME = _Prim("datetime", _dt.datetime, SimpleType.DATETIME, _enc_datetime, _dec_datetime)
DATE = _Prim("date", _dt.date, SimpleType.DATETIME, _enc_date, _dec_date)
TIMEDELTA = _Prim("timedelta", _dt.timedelta, SimpleType.DURATION, _enc_timedelta, _dec_timedelta)

BY_TYPE: dict[Any, TypeTransformer[Any]] = {
    bool: BOOL,
    int: INT,
    float: FLOAT,
    str: STR,
    type(None): NONE,
    None: NONE,
    _dt.datetime: DATETIME,
    _dt.date: DATE,
    _dt.timedelta: TIMEDELTA,
}

__all__ = ["BY_TYPE", "type_repr"]
