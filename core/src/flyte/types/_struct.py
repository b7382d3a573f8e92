"""Dataclasses and msgpack-carried dicts.

Wire facts (official SDK 2.12.1): a dataclass is a ``Binary`` scalar whose ``tag`` is
``msgpack`` and whose bytes are the msgpack map of its fields (see
:mod:`flyte.types._msgpack_codec`). Its LiteralType is STRUCT with the dataclass's JSON
schema as ``metadata``, ``annotation`` ``{"cache-key-metadata": {"serialization-format":
"msgpack"}}`` and ``structure.tag`` ``Object-Dataclass-Transformer``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack
from flyteidl2.core.literals_pb2 import Literal
from flyteidl2.core.types_pb2 import LiteralType, SimpleType, TypeAnnotation

from flyte.types._blob import UPLOADED
from flyte.types._msgpack_codec import Codec, codec_for, collect_blobs
from flyte.types._struct_schema import dataclass_schema
from flyte.types._transformer import Decoder, Encoder, TypeTransformer, fail, type_repr, value_repr

MSGPACK = "msgpack"


def _binary_literal(data: bytes) -> Literal:
    lit = Literal()
    b = lit.scalar.binary
    b.value = data
    b.tag = MSGPACK
    return lit


def _unpack(lit: Literal, t: Any) -> Any:
    if lit.WhichOneof("value") != "scalar":
        raise fail(f"Expected a msgpack binary scalar for {type_repr(t)}, got a {lit.WhichOneof('value')}")
    s = lit.scalar
    kind = s.WhichOneof("value")
    if kind == "binary":
        if s.binary.tag != MSGPACK:
            raise fail(f"Unsupported binary format {s.binary.tag!r} for {type_repr(t)} (expected 'msgpack')")
        return msgpack.unpackb(s.binary.value, strict_map_key=False)
    if kind == "generic":  # a protobuf Struct, as the UI sends
        from google.protobuf.json_format import MessageToDict

        return MessageToDict(s.generic)
    raise fail(f"Expected a msgpack binary scalar for {type_repr(t)}, got a {kind} scalar")


def struct_literal_type(metadata: dict[str, Any] | None, tag: str | None) -> LiteralType:
    lt = LiteralType(simple=SimpleType.STRUCT)
    if metadata is not None:
        lt.metadata.update(metadata)
    lt.annotation.CopyFrom(TypeAnnotation())
    lt.annotation.annotations.update({"cache-key-metadata": {"serialization-format": MSGPACK}})
    if tag:
        lt.structure.tag = tag
    return lt


def check_msgpack_type(t: Any) -> Codec:
    return codec_for(t)


def msgpack_encoder(t: Any, kind: type) -> Encoder | None:
    c = codec_for(t)
    if c.has_io:
        return None
    to_plain = c.to_plain

    def enc(v: Any) -> Literal:
        if not isinstance(v, kind):
            raise fail(f"Expected {type_repr(t)}, got {type(v).__name__} {value_repr(v)}")
        try:
            data = msgpack.packb(to_plain(v))
        except Exception as e:
            raise fail(f"Cannot encode {value_repr(v)} as {type_repr(t)}: {e}") from e
        return _binary_literal(data)

    return enc


def msgpack_decoder(t: Any) -> Decoder:
    from_plain = codec_for(t).from_plain

    def dec(lit: Literal) -> Any:
        return from_plain(_unpack(lit, t))

    return dec


async def msgpack_to_literal(v: Any, t: Any) -> Literal:
    """Encode a value whose type may hold File/Dir: upload local files first."""
    c = codec_for(t)
    if not c.has_io:
        enc = msgpack_encoder(t, object)
        assert enc is not None
        return enc(v)
    blobs: list[Any] = []
    collect_blobs(v, blobs)
    uploaded: dict[int, str] = {}
    for b in blobs:
        uri = await b._uri_for_literal()
        if uri != b.path:
            uploaded[id(b)] = uri
    token = UPLOADED.set(uploaded)
    try:
        data = msgpack.packb(c.to_plain(v))
    except Exception as e:
        raise fail(f"Cannot encode {value_repr(v)} as {type_repr(t)}: {e}") from e
    finally:
        UPLOADED.reset(token)
    return _binary_literal(data)


class DataclassTransformer(TypeTransformer[Any]):
    def __init__(self) -> None:
        super().__init__("Object-Dataclass-Transformer", object)

    def matches(self, t: Any) -> bool:
        return isinstance(t, type) and dataclasses.is_dataclass(t)

    def get_literal_type(self, t: Any) -> LiteralType:
        codec_for(t)  # unsupported field types fail here, at decoration time
        return struct_literal_type(dataclass_schema(t), self.name)

    def _coerce(self, v: Any, t: Any) -> Any:
        if isinstance(v, dict):  # JSON-like input (CLI, API): build the dataclass, applying defaults
            return codec_for(t).from_plain(v)
        return v

    def sync_encoder(self, t: Any, lt: LiteralType) -> Encoder | None:
        enc = msgpack_encoder(t, object)
        if enc is None:
            return None
        coerce = self._coerce

        def encode(v: Any) -> Literal:
            return enc(coerce(v, t))

        return encode

    def sync_decoder(self, t: Any) -> Decoder:
        return msgpack_decoder(t)

    async def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType) -> Literal:
        return await msgpack_to_literal(self._coerce(python_val, python_type), python_type)

    async def to_python_value(self, lv: Literal, expected_python_type: Any) -> Any:
        return msgpack_decoder(expected_python_type)(lv)


DATACLASS = DataclassTransformer()
