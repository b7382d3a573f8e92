"""Containers and choices: ``list[T]``, ``dict[str, T]``, untyped ``dict``, unions, enums.

Wire facts (official SDK 2.12.1):

* ``list[T]`` is a ``LiteralCollection`` typed ``collection_type``.
* ``dict[str, T]`` is a ``LiteralMap`` typed ``map_value_type``; any other dict (bare
  ``dict``, ``dict[int, str]``) is a msgpack ``Binary`` scalar tagged ``msgpack`` with a
  STRUCT type annotated ``cache-key-metadata.serialization-format = msgpack``.
* A union's type lists its variants, each carrying ``structure.tag`` = the name of the
  transformer that handles it; a union literal stores the value *and* its tagged variant
  type, which is how the reader picks the variant back.
* An ``Enum`` travels as the member *name* in a string primitive, typed ``enum_type``
  listing the names. (``typing.Literal`` is in ``_literal``.)
"""

from __future__ import annotations

import asyncio
import enum
import typing
from typing import Any

from flyteidl2.core.literals_pb2 import Literal
from flyteidl2.core.types_pb2 import EnumType, LiteralType, SimpleType, TypeAnnotation

from flyte.types._transformer import Decoder, Encoder, TypeTransformer, fail, type_repr, value_repr
from flyte.types._transformer import nested_plan as _plan

MSGPACK = "msgpack"


def _in_item(where: str, e: Exception) -> Exception:
    return fail(f"{where}: {e}")


# -- list ---------------------------------------------------------------------------------


class ListTransformer(TypeTransformer[list[Any]]):
    def __init__(self) -> None:
        super().__init__("Typed List", list)

    @staticmethod
    def _sub(t: Any) -> Any:
        args = typing.get_args(t)
        if len(args) != 1:
            raise fail(f"{type_repr(t)}: a list needs its item type, e.g. list[int]")
        return args[0]

    def get_literal_type(self, t: Any) -> LiteralType:
        return LiteralType(collection_type=_plan(self._sub(t)).literal_type)

    def sync_encoder(self, t: Any, lt: LiteralType) -> Encoder | None:
        sub = _plan(self._sub(t)).encode
        if sub is None:
            return None

        def enc(v: Any) -> Literal:
            if not isinstance(v, list):
                raise fail(f"Expected a list, got {type(v).__name__} {value_repr(v)}")
            lit = Literal()
            lit.collection.SetInParent()
            out = lit.collection.literals
            for i, x in enumerate(v):
                try:
                    out.append(sub(x))
                except Exception as e:
                    raise _in_item(f"item [{i}]", e) from e
            return lit

        return enc

    def sync_decoder(self, t: Any) -> Decoder | None:
        sub = _plan(self._sub(t)).decode
        if sub is None:
            return None

        def dec(lit: Literal) -> list[Any]:
            if lit.WhichOneof("value") != "collection":
                raise fail(f"Expected a collection literal for {type_repr(t)}")
            return [sub(x) for x in lit.collection.literals]

        return dec

    async def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType) -> Literal:
        if not isinstance(python_val, list):
            raise fail(f"Expected a list, got {type(python_val).__name__} {value_repr(python_val)}")
        p = _plan(self._sub(python_type))
        items = await asyncio.gather(*(p.to_literal(x) for x in python_val))
        lit = Literal()
        lit.collection.SetInParent()
        lit.collection.literals.extend(items)
        return lit

    async def to_python_value(self, lv: Literal, expected_python_type: Any) -> list[Any]:
        if lv.WhichOneof("value") != "collection":
            raise fail(f"Expected a collection literal for {type_repr(expected_python_type)}")
        p = _plan(self._sub(expected_python_type))
        return list(await asyncio.gather(*(p.to_python(x) for x in lv.collection.literals)))


# -- dict ---------------------------------------------------------------------------------


def _struct_type() -> LiteralType:
    lt = LiteralType(simple=SimpleType.STRUCT)
    lt.annotation.CopyFrom(TypeAnnotation())
    lt.annotation.annotations.update({"cache-key-metadata": {"serialization-format": MSGPACK}})
    return lt


class DictTransformer(TypeTransformer[dict[Any, Any]]):
    def __init__(self) -> None:
        super().__init__("Typed Dict", dict)

    @staticmethod
    def _value_type(t: Any) -> Any | None:
        """The value type of ``dict[str, V]``; ``None`` for dicts that travel as msgpack."""
        args = typing.get_args(t)
        if len(args) == 2 and args[0] is str:
            return args[1]
        return None

    def get_literal_type(self, t: Any) -> LiteralType:
        vt = self._value_type(t)
        if vt is None:  # a dict that travels as msgpack: the codec loads on first use (STARTUP in the layer test)
            from flyte.types._struct import check_msgpack_type

            check_msgpack_type(t)
            return _struct_type()
        return LiteralType(map_value_type=_plan(vt).literal_type)

    def sync_encoder(self, t: Any, lt: LiteralType) -> Encoder | None:
        vt = self._value_type(t)
        if vt is None:
            from flyte.types._struct import msgpack_encoder

            return msgpack_encoder(t, dict)
        sub = _plan(vt).encode
        if sub is None:
            return None

        def enc(v: Any) -> Literal:
            if not isinstance(v, dict):
                raise fail(f"Expected a dict, got {type(v).__name__} {value_repr(v)}")
            lit = Literal()
            lit.map.SetInParent()
            out = lit.map.literals
            for k, x in v.items():
                if type(k) is not str:
                    raise fail(f"dict[str, ...] keys must be str, got {type(k).__name__} {value_repr(k)}")
                try:
                    out[k].CopyFrom(sub(x))
                except Exception as e:
                    raise _in_item(f"key {k!r}", e) from e
            return lit

        return enc

    def sync_decoder(self, t: Any) -> Decoder | None:
        vt = self._value_type(t)
        if vt is None:
            from flyte.types._struct import msgpack_decoder

            return msgpack_decoder(t)
        sub = _plan(vt).decode
        if sub is None:
            return None

        def dec(lit: Literal) -> dict[str, Any]:
            if lit.WhichOneof("value") != "map":
                raise fail(f"Expected a map literal for {type_repr(t)}")
            return {k: sub(x) for k, x in lit.map.literals.items()}

        return dec

    async def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType) -> Literal:
        vt = self._value_type(python_type)
        if vt is None:
            from flyte.types._struct import msgpack_to_literal

            return await msgpack_to_literal(python_val, python_type)
        if not isinstance(python_val, dict):
            raise fail(f"Expected a dict, got {type(python_val).__name__} {value_repr(python_val)}")
        for k in python_val:
            if type(k) is not str:
                raise fail(f"dict[str, ...] keys must be str, got {type(k).__name__} {value_repr(k)}")
        p = _plan(vt)
        values = await asyncio.gather(*(p.to_literal(x) for x in python_val.values()))
        lit = Literal()
        lit.map.SetInParent()
        for k, x in zip(python_val, values, strict=True):
            lit.map.literals[k].CopyFrom(x)
        return lit

    async def to_python_value(self, lv: Literal, expected_python_type: Any) -> dict[Any, Any]:
        vt = self._value_type(expected_python_type)
        if vt is None:
            dec = self.sync_decoder(expected_python_type)
            assert dec is not None
            return dec(lv)
        if lv.WhichOneof("value") != "map":
            raise fail(f"Expected a map literal for {type_repr(expected_python_type)}")
        p = _plan(vt)
        keys = list(lv.map.literals)
        values = await asyncio.gather(*(p.to_python(lv.map.literals[k]) for k in keys))
        return dict(zip(keys, values, strict=True))


# -- union --------------------------------------------------------------------------------


def _essence(lt: LiteralType) -> LiteralType:
    if lt.HasField("metadata") or lt.HasField("structure") or lt.HasField("annotation"):
        x = LiteralType()
        x.CopyFrom(lt)
        x.ClearField("metadata")
        x.ClearField("structure")
        x.ClearField("annotation")
        return x
    return lt


class _Variants:
    """The compiled variants of one union type."""

    def __init__(self, t: Any) -> None:
        self.types = typing.get_args(t)
        self.plans = [_plan(x) for x in self.types]
        self.tagged: list[LiteralType] = []
        for p in self.plans:
            v = LiteralType()
            v.CopyFrom(p.literal_type)
            v.structure.tag = p.transformer.name
            self.tagged.append(v)
        self.essences = [_essence(v) for v in self.tagged]
        self.exact: dict[Any, int] = {}
        for i, x in enumerate(self.types):
            if isinstance(x, type) and not typing.get_args(x):
                self.exact.setdefault(x, i)
        self.t = t

    def pick_candidates(self, v: Any) -> list[int] | int:
        i = self.exact.get(type(v))
        return i if i is not None else list(range(len(self.plans)))

    def wrap(self, inner: Literal, i: int) -> Literal:
        lit = Literal()
        u = lit.scalar.union
        u.value.CopyFrom(inner)
        u.type.CopyFrom(self.tagged[i])
        return lit

    def no_match(self, v: Any, errors: list[str]) -> Exception:
        return fail(f"{value_repr(v)} fits none of {type_repr(self.t)}: " + "; ".join(errors))

    def ambiguous(self, v: Any, hits: list[int]) -> Exception:
        names = ", ".join(type_repr(self.types[i]) for i in hits)
        return fail(f"{value_repr(v)} is ambiguous for {type_repr(self.t)}: it fits {names}")

    def decode_order(self, lit: Literal) -> tuple[Literal, list[int]]:
        """The literal to decode and the variants to try, most specific first."""
        if lit.WhichOneof("value") == "scalar" and lit.scalar.WhichOneof("value") == "union":
            u = lit.scalar.union
            tag = u.type.structure.tag
            if tag:
                named = [i for i, p in enumerate(self.plans) if p.transformer.name == tag]
                if len(named) > 1:
                    ess = _essence(u.type)
                    same = [i for i in named if self.essences[i] == ess]
                    named = same or named
                if named:
                    return u.value, named
            return u.value, list(range(len(self.plans)))
        return lit, list(range(len(self.plans)))


class UnionTransformer(TypeTransformer[Any]):
    def __init__(self) -> None:
        super().__init__("Typed Union", typing.Union)
        self._variants: dict[Any, _Variants] = {}

    def _v(self, t: Any) -> _Variants:
        try:
            return self._variants[t]
        except KeyError:
            v = self._variants[t] = _Variants(t)
            return v
        except TypeError:  # unhashable annotation
            return _Variants(t)

    def get_literal_type(self, t: Any) -> LiteralType:
        lt = LiteralType()
        lt.union_type.variants.extend(self._v(t).tagged)
        return lt

    def sync_encoder(self, t: Any, lt: LiteralType) -> Encoder | None:
        vs = self._v(t)
        encs = [p.encode for p in vs.plans]
        if any(e is None for e in encs):
            return None
        none_idx = vs.exact.get(type(None))

        def enc(v: Any) -> Literal:
            if v is None and none_idx is not None:
                return vs.wrap(encs[none_idx](v), none_idx)  # type: ignore[misc]
            c = vs.pick_candidates(v)
            if isinstance(c, int):
                return vs.wrap(encs[c](v), c)  # type: ignore[misc]
            hits: list[tuple[int, Literal]] = []
            errors: list[str] = []
            for i in c:
                try:
                    hits.append((i, encs[i](v)))  # type: ignore[misc]
                except Exception as e:
                    errors.append(str(e))
            if len(hits) == 1:
                return vs.wrap(hits[0][1], hits[0][0])
            if hits:
                raise vs.ambiguous(v, [i for i, _ in hits])
            raise vs.no_match(v, errors)

        return enc

    def sync_decoder(self, t: Any) -> Decoder | None:
        vs = self._v(t)
        decs = [p.decode for p in vs.plans]
        if any(d is None for d in decs):
            return None

        def dec(lit: Literal) -> Any:
            inner, order = vs.decode_order(lit)
            if len(order) == 1:
                return decs[order[0]](inner)  # type: ignore[misc]
            errors: list[str] = []
            for i in order:
                try:
                    return decs[i](inner)  # type: ignore[misc]
                except Exception as e:
                    errors.append(str(e))
            raise fail(f"Cannot convert the literal to {type_repr(t)}: " + "; ".join(errors))

        return dec

    async def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType) -> Literal:
        vs = self._v(python_type)
        none_idx = vs.exact.get(type(None)) if python_val is None else None
        c = none_idx if none_idx is not None else vs.pick_candidates(python_val)
        if isinstance(c, int):
            return vs.wrap(await vs.plans[c].to_literal(python_val), c)
        hits: list[tuple[int, Literal]] = []
        errors: list[str] = []
        for i in c:
            try:
                hits.append((i, await vs.plans[i].to_literal(python_val)))
            except Exception as e:
                errors.append(str(e))
        if len(hits) == 1:
            return vs.wrap(hits[0][1], hits[0][0])
        if hits:
            raise vs.ambiguous(python_val, [i for i, _ in hits])
        raise vs.no_match(python_val, errors)

    async def to_python_value(self, lv: Literal, expected_python_type: Any) -> Any:
        vs = self._v(expected_python_type)
        inner, order = vs.decode_order(lv)
        errors: list[str] = []
        for i in order:
            try:
                return await vs.plans[i].to_python(inner)
            except Exception as e:
                if len(order) == 1:
                    raise
                errors.append(str(e))
        raise fail(f"Cannot convert the literal to {type_repr(expected_python_type)}: " + "; ".join(errors))


# -- enums --------------------------------------------------------------------------------


class EnumTransformer(TypeTransformer[enum.Enum]):
    def __init__(self) -> None:
        super().__init__("DefaultEnumTransformer", enum.Enum)

    @staticmethod
    def check(t: type[enum.Enum]) -> None:
        members = list(t)
        if not members:
            raise fail(f"{type_repr(t)} has no members, so there is nothing to send")
        if issubclass(t, enum.Flag):
            raise fail(
                f"{type_repr(t)} is a Flag enum; its combined members cannot be looked up by name. "
                "Use an IntEnum or pass the combined value as an int."
            )
        if not isinstance(members[0].value, str) and not issubclass(t, enum.IntEnum):
            raise fail(f"{type_repr(t)}: only str-valued enums and IntEnum are supported")

    def get_literal_type(self, t: Any) -> LiteralType:
        self.check(t)
        return LiteralType(enum_type=EnumType(values=[m.name for m in t]))

    def sync_encoder(self, t: Any, lt: LiteralType) -> Encoder:
        by_name = {m.name: m.name for m in t}
        by_value = {m.value: m.name for m in t}

        def enc(v: Any) -> Literal:
            if isinstance(v, t):
                name = v.name
            elif isinstance(v, str) and v in by_name:
                name = v
            else:
                try:
                    name = by_value[v]
                except (KeyError, TypeError):
                    raise fail(f"{value_repr(v)} is not a member of {type_repr(t)}: {list(by_name)}") from None
            lit = Literal()
            lit.scalar.primitive.string_value = name
            return lit

        return enc

    def sync_decoder(self, t: Any) -> Decoder:
        members = {m.name: m for m in t}

        def dec(lit: Literal) -> Any:
            s = lit.scalar.primitive.string_value
            try:
                return members[s]
            except KeyError:
                raise fail(f"{s!r} is not a member of {type_repr(t)}: {list(members)}") from None

        return dec


LIST = ListTransformer()
DICT = DictTransformer()
UNION = UnionTransformer()
ENUM = EnumTransformer()
