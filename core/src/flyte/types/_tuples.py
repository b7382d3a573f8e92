"""Typed tuples (``tuple[int, str]``) and ``NamedTuple`` types as values. Needs pydantic.

Wire facts (official SDK 2.12.1): the tuple is wrapped in a generated pydantic model --
``TupleWrapper_tuple`` with fields ``item_0``, ``item_1``... or ``NamedTupleWrapper_<Name>``
with the tuple's field names -- and sent exactly as that model (msgpack binary, STRUCT
type tagged ``Pydantic Transformer``). As a union variant its tag is ``Typed Tuple`` or
``NamedTuple``.

(A ``tuple[...]`` *return* annotation is not a value: it declares several outputs, see
:mod:`flyte.types.interface`.)
"""

from __future__ import annotations

import typing
from typing import Any

from flyteidl2.core.literals_pb2 import Literal
from flyteidl2.core.types_pb2 import LiteralType

from flyte.types._transformer import Decoder, Encoder, TypeTransformer, fail, type_repr, value_repr


def is_named_tuple(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields")


def is_typed_tuple(t: Any) -> bool:
    if typing.get_origin(t) is not tuple:
        return False
    args = typing.get_args(t)
    return bool(args) and Ellipsis not in args


class _Wrapping(TypeTransformer[tuple[Any, ...]]):
    """Send a tuple as a generated pydantic model."""

    prefix = ""

    def __init__(self, name: str) -> None:
        super().__init__(name, tuple, enable_type_assertions=False)
        self._models: dict[Any, Any] = {}

    def fields(self, t: Any) -> dict[str, Any]:
        raise NotImplementedError

    def model(self, t: Any) -> Any:
        m = self._models.get(t)
        if m is None:
            try:
                from pydantic import create_model
            except ImportError:
                raise fail(f"{type_repr(t)} as a value needs pydantic (pip install pydantic)") from None
            title = f"{self.prefix}{getattr(t, '__name__', 'tuple')}"
            spec: dict[str, Any] = {k: (ft, ...) for k, ft in self.fields(t).items()}
            m = create_model(title, **spec)
            self._models[t] = m
        return m

    def get_literal_type(self, t: Any) -> LiteralType:
        from flyte.types._pydantic import PYDANTIC

        return PYDANTIC.get_literal_type(self.model(t))

    def sync_encoder(self, t: Any, lt: LiteralType) -> Encoder | None:
        from flyte.types._pydantic import PYDANTIC

        model = self.model(t)
        enc = PYDANTIC.sync_encoder(model, lt)
        if enc is None:
            return None
        names = list(self.fields(t))

        def encode(v: Any) -> Literal:
            if not isinstance(v, (tuple, list)) or len(v) != len(names):
                raise fail(f"Expected {type_repr(t)} ({len(names)} items), got {value_repr(v)}")
            try:
                inst = model(**dict(zip(names, v, strict=True)))
            except Exception as e:
                raise fail(f"{value_repr(v)} does not fit {type_repr(t)}: {e}") from e
            return enc(inst)

        return encode

    def sync_decoder(self, t: Any) -> Decoder:
        from flyte.types._pydantic import PYDANTIC

        dec = PYDANTIC.sync_decoder(self.model(t))
        names = list(self.fields(t))
        build = t if is_named_tuple(t) else None

        def decode(lit: Literal) -> Any:
            m = dec(lit)
            values = [getattr(m, n) for n in names]
            return build(*values) if build is not None else tuple(values)

        return decode


class TupleTransformer(_Wrapping):
    prefix = "TupleWrapper_"

    def __init__(self) -> None:
        super().__init__("Typed Tuple")

    def fields(self, t: Any) -> dict[str, Any]:
        return {f"item_{i}": a for i, a in enumerate(typing.get_args(t))}


class NamedTupleTransformer(_Wrapping):
    prefix = "NamedTupleWrapper_"

    def __init__(self) -> None:
        super().__init__("NamedTuple")

    def fields(self, t: Any) -> dict[str, Any]:
        return dict(typing.get_type_hints(t, include_extras=True))


TUPLE = TupleTransformer()
NAMED_TUPLE = NamedTupleTransformer()
