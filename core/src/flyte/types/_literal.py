"""``typing.Literal[...]``, encoded exactly as the official SDK 2.12.1 encodes it.

The official SDK has no transformer for ``Literal``; what goes on the wire depends on where
the annotation sits (verified against 2.12.1, see ``core/tests/types/golden``):

* **Top level of a task signature** (a parameter, a single return, an element of a
  ``tuple[...]`` return), only strings: ``flyte.models.NativeInterface`` turns it into an
  enum, so the LiteralType is ``enum_type`` listing the values and the value is a string
  primitive. Here: :data:`LITERAL_ENUM`, chosen by :func:`signature_type`.
* **Top level, any non-string value** (``Literal[1, 2]``, ``Literal[True]``,
  ``Literal["a", 1]``): the official interface turns it into ``typing.Any``, which it
  pickles: the pickle union type with ``python_class_name`` ``typing.Any``. Here:
  :data:`LITERAL_AS_ANY`.
* **Anywhere else** (``Optional[Literal[...]]``, ``list[Literal[...]]``, a NamedTuple
  field, ``TypeEngine`` called directly): the pickle union type with ``python_class_name``
  ``str(t)`` (``typing.Literal['a', 'b']``); the value is an untagged ``Binary`` scalar
  holding ``pickle.dumps(value, protocol=5)`` (cloudpickle writes the same bytes for
  these values). Here: :data:`LITERAL`.
* **Inside a dataclass or pydantic model**: a plain msgpack value (no pickle); see
  ``_msgpack_codec``.

The pickle is the official encoding of the type, not a fallback, so we write it; we read
it with an unpickler that refuses every global (no code runs) and accept only a value that
is a member of the Literal. Members may be ``str``, ``int``, ``bool`` or ``Enum`` members (the
official SDK pickles those too; we unpickle only the member's own enum class).
"""

from __future__ import annotations

import enum
import pickle
import sys
import typing
from typing import Annotated, Any

from flyteidl2.core.literals_pb2 import Literal
from flyteidl2.core.types_pb2 import EnumType, LiteralType

from flyte.types._pickle import INLINE_LIMIT, load_plain_pickle, pickle_bytes, pickle_literal_type, pickle_to_literal
from flyte.types._transformer import Decoder, Encoder, TypeTransformer, fail, type_repr, value_repr

_MEMBER_TYPES = (str, int, bool)


def is_literal(t: Any) -> bool:
    return typing.get_origin(t) is typing.Literal


def literal_members(t: Any) -> tuple[Any, ...]:
    """The values of ``Literal[...]``; only str, int and bool values can travel."""
    members = typing.get_args(t)
    if not members:
        raise fail(f"{type_repr(t)} has no values")
    for m in members:
        if type(m) not in _MEMBER_TYPES and not isinstance(m, enum.Enum):
            hint = " (use Optional[Literal[...]] for None)" if m is None else ""
            raise fail(
                f"{type_repr(t)}: Literal values must be str, int, bool or Enum members, "
                f"got {type(m).__name__} {value_repr(m)}{hint}"
            )
    return members


def _same_kind(v: Any, m: Any) -> bool:
    if type(m) is bool or isinstance(v, bool):  # True == 1, but a bool is not an int member
        return type(v) is bool and type(m) is bool
    return isinstance(v, type(m))


def find_member(t: Any, members: tuple[Any, ...], v: Any) -> Any:
    """The member of ``Literal[...]`` equal to ``v`` (the declared value itself), or a clear error."""
    for m in members:
        if _same_kind(v, m) and v == m:
            return m
    raise fail(f"{value_repr(v)} is not one of the allowed values {list(members)!r} of {type_repr(t)}")


class LiteralTransformer(TypeTransformer[Any]):
    """``Literal[...]`` anywhere but the top level of a task signature: the official pickle form."""

    def __init__(self) -> None:
        super().__init__("FlytePickle", typing.Literal)

    def class_name(self, t: Any) -> str:
        return str(t)

    def get_literal_type(self, t: Any) -> LiteralType:
        literal_members(t)
        return pickle_literal_type(self.class_name(t))

    @staticmethod
    def _pickles(members: tuple[Any, ...]) -> dict[tuple[type, Any], bytes]:
        return {(type(m), m): pickle.dumps(m, protocol=5) for m in members}

    def sync_encoder(self, t: Any, lt: LiteralType) -> Encoder | None:
        members = literal_members(t)
        if any(sys.getsizeof(m) > INLINE_LIMIT for m in members):
            return None  # the official SDK writes such a value to a blob: async path
        data = self._pickles(members)

        def enc(v: Any) -> Literal:
            m = find_member(t, members, v)
            lit = Literal()
            lit.scalar.binary.value = data[(type(m), m)]
            return lit

        return enc

    async def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType) -> Literal:
        m = find_member(python_type, literal_members(python_type), python_val)
        return await pickle_to_literal(m, pickle.dumps(m, protocol=5))

    async def to_python_value(self, lv: Literal, expected_python_type: Any) -> Any:
        t = expected_python_type
        members = literal_members(t)
        enums = tuple(dict.fromkeys(type(m) for m in members if isinstance(m, enum.Enum)))
        v = load_plain_pickle(await pickle_bytes(lv), f"a {type_repr(t)} literal", enums)
        if type(v) not in _MEMBER_TYPES and type(v) not in enums:
            raise fail(
                f"a {type_repr(t)} literal must hold one of {list(members)!r}; "
                f"it holds a {type(v).__name__}, refusing it"
            )
        return find_member(t, members, v)


class LiteralAsAnyTransformer(LiteralTransformer):
    """A top-level ``Literal`` with a non-string value: the official interface declares it ``typing.Any``."""

    def class_name(self, t: Any) -> str:
        return str(typing.Any)


class LiteralEnumTransformer(TypeTransformer[str]):
    """A top-level ``Literal["a", "b"]`` of a task signature: an enum type listing the values."""

    def __init__(self) -> None:
        super().__init__("DefaultEnumTransformer", typing.Literal)

    @staticmethod
    def values(t: Any) -> tuple[str, ...]:
        vals = literal_members(t)
        if not all(type(v) is str for v in vals):
            raise fail(f"{type_repr(t)}: an enum-typed Literal holds only strings")
        return vals

    def get_literal_type(self, t: Any) -> LiteralType:
        return LiteralType(enum_type=EnumType(values=list(dict.fromkeys(self.values(t)))))

    def sync_encoder(self, t: Any, lt: LiteralType) -> Encoder:
        members = self.values(t)

        def enc(v: Any) -> Literal:
            lit = Literal()
            lit.scalar.primitive.string_value = find_member(t, members, v)
            return lit

        return enc

    def sync_decoder(self, t: Any) -> Decoder:
        members = self.values(t)

        def dec(lit: Literal) -> str:
            if lit.WhichOneof("value") != "scalar" or lit.scalar.WhichOneof("value") != "primitive":
                raise fail(f"Expected a string primitive for {type_repr(t)}")
            return typing.cast(str, find_member(t, members, lit.scalar.primitive.string_value))

        return dec


LITERAL = LiteralTransformer()
LITERAL_AS_ANY = LiteralAsAnyTransformer()
LITERAL_ENUM = LiteralEnumTransformer()


def signature_type(t: Any) -> Any:
    """The type to plan for an annotation at the top level of a task signature.

    Like the official ``NativeInterface``: ``Literal`` of strings becomes an enum, any other
    ``Literal`` is declared ``typing.Any`` (still checked against its values). Other
    annotations (including ``Annotated[Literal[...], ...]``) are unchanged.
    """
    if not is_literal(t):
        return t
    members = literal_members(t)
    if all(type(m) is str for m in members):
        return Annotated[t, LITERAL_ENUM]
    return Annotated[t, LITERAL_AS_ANY]


def literal_from_class_name(name: str) -> Any | None:
    """``Literal[...]`` from a pickle type's ``python_class_name`` (``typing.Literal['a', 'b']``), or None."""
    import ast

    prefix = "typing.Literal["
    if not (name.startswith(prefix) and name.endswith("]")):
        return None
    try:
        values = ast.literal_eval("(" + name[len(prefix) : -1] + ",)")
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if not values or not all(type(v) in _MEMBER_TYPES for v in values):
        return None
    return typing.Literal[values]
