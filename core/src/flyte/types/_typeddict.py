"""``TypedDict`` types as values: sent as a generated pydantic model, as the official SDK 2.12.1 does.

Wire facts: the model is ``TypedDictWrapper_<Name>``; a required key is a required field, a key that
may be missing (``NotRequired[T]``, or any key of a ``total=False`` TypedDict) an ``Optional[T]``
field defaulting to ``None``; a nested TypedDict is its own wrapper model. The value is that model
(msgpack binary, STRUCT tagged ``Pydantic Transformer``). Read back, a missing key stays missing.
Needs pydantic.
"""

from __future__ import annotations

import typing
from typing import Any

from flyteidl2.core.literals_pb2 import Literal
from flyteidl2.core.types_pb2 import LiteralType

from flyte.errors import TypeTransformerError
from flyte.types._transformer import Decoder, Encoder, TypeTransformer, fail, type_repr, value_repr


def is_typed_dict(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, dict) and hasattr(t, "__required_keys__")


def _strip_required(t: Any) -> Any:
    while typing.get_origin(t) in (typing.NotRequired, typing.Required):
        t = typing.get_args(t)[0]
    return t


def optional_keys(t: Any) -> set[str]:
    """Keys that may be missing. ``__optional_keys__`` alone is wrong when annotations are strings
    (``from __future__ import annotations`` hides ``NotRequired`` from the class statement)."""
    hints = typing.get_type_hints(t, include_extras=True)
    keys = set(getattr(t, "__optional_keys__", ()))
    for k, ft in hints.items():
        origin = typing.get_origin(ft)
        if origin is typing.NotRequired:
            keys.add(k)
        elif origin is typing.Required:
            keys.discard(k)
    return keys


class TypedDictTransformer(TypeTransformer[dict[str, Any]]):
    prefix = "TypedDictWrapper_"

    def __init__(self) -> None:
        super().__init__("TypedDict", dict, enable_type_assertions=False)
        self._models: dict[Any, Any] = {}
        self._building: dict[Any, str] = {}  # TypedDicts whose model is being made: a self-reference is by name

    # -- the wrapper model --------------------------------------------------------------------------

    def _field_type(self, t: Any) -> Any:
        """``t`` with every TypedDict inside it replaced by its wrapper model."""
        if is_typed_dict(t):
            return self.model(t)
        origin, args = typing.get_origin(t), typing.get_args(t)
        if origin is None or not args or origin is typing.Literal:
            return t
        converted = tuple(self._field_type(a) for a in args)
        if converted == args:
            return t
        if origin is typing.Union or origin is __import__("types").UnionType:
            return typing.Union[converted]  # noqa: UP007  (rebuilt from parts)
        try:
            return origin[converted if len(converted) > 1 else converted[0]]
        except TypeError:
            return t

    def model(self, t: Any) -> Any:
        m = self._models.get(t)
        if m is not None:
            return m
        if t in self._building:  # a TypedDict that contains itself (a tree): refer to its model by name
            return self._building[t]
        try:
            from pydantic import create_model
        except ImportError:
            raise fail(f"{type_repr(t)} as a value needs pydantic (pip install pydantic)") from None
        name = f"{self.prefix}{t.__name__}"
        self._building[t] = name
        try:
            hints = typing.get_type_hints(t, include_extras=True)
            optional = optional_keys(t)
            spec: dict[str, Any] = {}
            for k, ft in hints.items():
                inner = self._field_type(_strip_required(ft))
                spec[k] = (typing.Optional[inner], None) if k in optional else (inner, ...)  # noqa: UP045
            m = create_model(name, **spec)
        finally:
            del self._building[t]
        self._models[t] = m
        namespace = {v.__name__: v for v in self._models.values()}
        m.model_rebuild(_types_namespace=namespace)
        return m

    def _to_plain(self, t: Any, v: Any) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise fail(f"Expected a dict for {type_repr(t)}, got {value_repr(v)}")
        hints = typing.get_type_hints(t)
        missing = sorted(set(hints) - optional_keys(t) - set(v))
        if missing:
            raise fail(f"{value_repr(v)} lacks the required key(s) {missing} of {type_repr(t)}")
        unknown = sorted(set(v) - set(hints))
        if unknown:
            raise fail(f"{value_repr(v)} has key(s) {unknown} that {type_repr(t)} does not declare")
        return v

    def _from_model(self, t: Any, m: Any) -> Any:
        """The model instance back as the plain dict the TypedDict describes (nested ones too)."""
        hints = typing.get_type_hints(t, include_extras=True)
        optional = optional_keys(t)
        out: dict[str, Any] = {}
        for k, ft in hints.items():
            value = getattr(m, k)
            if value is None and k in optional:
                continue  # a key that was not given stays absent
            out[k] = self._plain(_strip_required(ft), value)
        return out

    def _plain(self, t: Any, value: Any) -> Any:
        if is_typed_dict(t):
            return self._from_model(t, value) if value is not None else None
        origin, args = typing.get_origin(t), typing.get_args(t)
        if origin is list and args and isinstance(value, list):
            return [self._plain(args[0], x) for x in value]
        if origin is dict and len(args) == 2 and isinstance(value, dict):
            return {k: self._plain(args[1], x) for k, x in value.items()}
        if (origin is typing.Union or origin is __import__("types").UnionType) and value is not None:
            for a in args:
                if is_typed_dict(a) and type(value).__name__ == f"{self.prefix}{a.__name__}":
                    return self._from_model(a, value)
        return value

    # -- the transformer ----------------------------------------------------------------------------

    def get_literal_type(self, t: Any) -> LiteralType:
        from flyte.types._pydantic import PYDANTIC

        return PYDANTIC.get_literal_type(self.model(t))

    def sync_encoder(self, t: Any, lt: LiteralType) -> Encoder | None:
        from flyte.types._pydantic import PYDANTIC

        enc = PYDANTIC.sync_encoder(self.model(t), lt)
        if enc is None:
            return None

        def encode(v: Any) -> Literal:
            return enc(self._instance(t, v))

        return encode

    def sync_decoder(self, t: Any) -> Decoder | None:
        from flyte.types._pydantic import PYDANTIC

        dec = PYDANTIC.sync_decoder(self.model(t))
        if dec is None:
            return None

        def decode(lit: Literal) -> Any:
            return self._from_model(t, dec(lit))

        return decode

    def _instance(self, t: Any, v: Any) -> Any:
        try:
            return self.model(t).model_validate(self._to_plain(t, v))
        except Exception as e:
            if isinstance(e, TypeTransformerError):
                raise
            raise fail(f"{value_repr(v)} does not fit {type_repr(t)}: {e}") from e

    # the async paths: a TypedDict holding File/Dir (uploads) or anything else the model converts async
    async def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType) -> Literal:
        from flyte.types._pydantic import PYDANTIC

        return await PYDANTIC.to_literal(self._instance(python_type, python_val), self.model(python_type), expected)

    async def to_python_value(self, lv: Literal, expected_python_type: Any) -> Any:
        from flyte.types._pydantic import PYDANTIC

        m = await PYDANTIC.to_python_value(lv, self.model(expected_python_type))
        return self._from_model(expected_python_type, m)


TYPED_DICT = TypedDictTransformer()
