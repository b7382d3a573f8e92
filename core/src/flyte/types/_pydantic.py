"""Pydantic v2 models. Imported only when the engine meets a ``BaseModel`` subclass.

Wire facts (official SDK 2.12.1): a ``Binary`` scalar tagged ``msgpack`` holding the
msgpack of ``json.loads(model.model_dump_json())`` in which every enum field carries the
member *name* (not its value); LiteralType STRUCT with the model's JSON schema (enums
listed by name) as ``metadata``, the msgpack ``annotation`` and ``structure.tag``
``Pydantic Transformer``.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from typing import Any

import msgpack
from flyteidl2.core.literals_pb2 import Literal
from flyteidl2.core.types_pb2 import LiteralType
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from flyte.types._blob import UPLOADED, is_blob_type
from flyte.types._msgpack_codec import collect_blobs
from flyte.types._struct import _binary_literal, _unpack, struct_literal_type
from flyte.types._transformer import Decoder, Encoder, TypeTransformer, fail, type_repr, value_repr


class _EnumNamesSchema(GenerateJsonSchema):
    """List enum members by name, as they travel."""

    def enum_schema(self, schema: Any) -> Any:
        out = super().enum_schema(schema)
        cls = schema.get("cls")
        if isinstance(cls, type) and issubclass(cls, enum.Enum) and "enum" in out:
            out["enum"] = [m.name for m in cls]
        return out


def _strip_optional(t: Any) -> Any:
    o = typing.get_origin(t)
    if o is typing.Union or o is types.UnionType:
        rest = [a for a in typing.get_args(t) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    if o is typing.Annotated:
        return _strip_optional(typing.get_args(t)[0])
    return t


def _convert(x: Any, t: Any, to_names: bool) -> Any:
    """Swap enum values for names (``to_names``) or names for members, guided by ``t``."""
    if x is None:
        return None
    t = _strip_optional(t)
    if isinstance(t, type):
        if issubclass(t, enum.Enum):
            if to_names:
                try:
                    return t(x).name
                except (ValueError, KeyError):
                    return x
            if isinstance(x, str):
                try:
                    return t[x]
                except KeyError:
                    try:
                        return t(x)
                    except ValueError:
                        return x
            return x
        if issubclass(t, BaseModel) and isinstance(x, dict):
            return _walk(x, t, to_names)
        return x
    o = typing.get_origin(t)
    args = typing.get_args(t)
    if o is list and args and isinstance(x, list):
        return [_convert(y, args[0], to_names) for y in x]
    if o is dict and len(args) == 2 and isinstance(x, dict):
        return {_convert(k, args[0], to_names): _convert(v, args[1], to_names) for k, v in x.items()}
    return x


def _walk(data: dict[str, Any], model: type[BaseModel], to_names: bool) -> dict[str, Any]:
    fields = model.model_fields
    return {k: (_convert(v, fields[k].annotation, to_names) if k in fields else v) for k, v in data.items()}


def _mentions_blob(t: Any, seen: set[int] | None = None) -> bool:
    seen = seen if seen is not None else set()
    if id(t) in seen:
        return False
    seen.add(id(t))
    if isinstance(t, type):
        if is_blob_type(t):
            return True
        if issubclass(t, BaseModel):
            return any(_mentions_blob(f.annotation, seen) for f in t.model_fields.values())
        return False
    return any(_mentions_blob(a, seen) for a in typing.get_args(t))


class PydanticTransformer(TypeTransformer[BaseModel]):
    def __init__(self) -> None:
        super().__init__("Pydantic Transformer", BaseModel, enable_type_assertions=False)

    def get_literal_type(self, t: Any) -> LiteralType:
        try:
            schema = t.model_json_schema(schema_generator=_EnumNamesSchema)
        except Exception as e:
            raise fail(f"pydantic cannot describe {type_repr(t)}: {e}") from e
        return struct_literal_type(schema, self.name)

    @staticmethod
    def _coerce(v: Any, t: Any) -> BaseModel:
        if isinstance(v, t):
            return v
        if isinstance(v, dict):
            try:
                return t.model_validate(v, strict=False)
            except Exception as e:
                raise fail(f"Cannot build {type_repr(t)} from {value_repr(v)}: {e}") from e
        raise fail(f"Expected {type_repr(t)}, got {type(v).__name__} {value_repr(v)}")

    @staticmethod
    def _pack(v: BaseModel, t: Any) -> Literal:
        data = _walk(json.loads(v.model_dump_json()), type(v), to_names=True)
        return _binary_literal(msgpack.packb(data))

    def sync_encoder(self, t: Any, lt: LiteralType) -> Encoder | None:
        if _mentions_blob(t):
            return None
        coerce, pack = self._coerce, self._pack

        def enc(v: Any) -> Literal:
            return pack(coerce(v, t), t)

        return enc

    def sync_decoder(self, t: Any) -> Decoder:
        def dec(lit: Literal) -> Any:
            data = _unpack(lit, t)
            if isinstance(data, dict):
                data = _walk(data, t, to_names=False)
            try:
                return t.model_validate(data, strict=False)
            except Exception as e:
                raise fail(f"Cannot build {type_repr(t)} from the literal: {e}") from e

        return dec

    async def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType) -> Literal:
        v = self._coerce(python_val, python_type)
        blobs: list[Any] = []
        collect_blobs(v, blobs)
        uploaded: dict[int, str] = {}
        for b in blobs:
            uri = await b._uri_for_literal()
            if uri != b.path:
                uploaded[id(b)] = uri
        token = UPLOADED.set(uploaded)
        try:
            return self._pack(v, python_type)
        finally:
            UPLOADED.reset(token)

    async def to_python_value(self, lv: Literal, expected_python_type: Any) -> Any:
        return self.sync_decoder(expected_python_type)(lv)


PYDANTIC = PydanticTransformer()
