"""The type engine: finds the transformer for a Python type and caches a plan per type.

Lookup order for a type ``t``:

1. ``Annotated[X, transformer_instance]`` uses that transformer; ``Pickled[X]`` pickles;
   other ``Annotated`` metadata is ignored.
2. Transformers registered with :meth:`TypeEngine.register`, by exact type (or by the
   origin of a generic alias).
3. Built-ins: scalars, ``list[T]``, ``dict``, unions, enums, ``typing.Literal`` (in the
   official SDK's pickle form; see ``_literal``), dataclasses, pydantic models (only if
   pydantic is already imported, i.e. the type *is* a model).
4. Registered transformers whose type is a base class of ``t``.
5. Transformers from the ``flyte_type_transformers`` plugin hook (asked only now): first
   the built-in plugin's, which include ``flyte.io.File`` and ``flyte.io.Dir`` (this package
   does not import :mod:`flyte.io`, a higher layer), then installed plugins'.

Anything else travels pickled, as on the official SDK, with one ``PickleWarning`` per type per
run (``types.pickle: error`` in the config, or ``FLYTE_TYPES_PICKLE=error``, makes it an error
instead; see ``_fallback``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import sys
import threading
import types
import typing
from typing import Any

from flyteidl2.core.literals_pb2 import Literal
from flyteidl2.core.types_pb2 import LiteralType

import flyte.storage as storage
from flyte.errors import TypeTransformerError
from flyte.plugins.manager import get_plugin_manager
from flyte.types import _collections, _fallback, _simple, _transformer
from flyte.types._literal import LITERAL
from flyte.types._pickle import BYTES, PICKLE, PICKLED
from flyte.types._transformer import TypePlan, TypeTransformer, fail, type_repr


def _builtin(t: Any) -> TypeTransformer[Any] | None:
    try:
        hit = _simple.BY_TYPE.get(t)
    except TypeError:
        hit = None
    if hit is not None:
        return hit
    origin = typing.get_origin(t)
    if origin is list:
        return _collections.LIST
    if origin is dict or t is dict:
        return _collections.DICT
    if origin is typing.Union or origin is types.UnionType:
        return _collections.UNION
    if origin is typing.Literal:
        return LITERAL
    # Tuples, TypedDicts and dataclasses load their transformers on first use (STARTUP in the layer test):
    # with the msgpack codec they are a fifth of the type engine's import cost, and most runs never need them.
    if origin is tuple:
        from flyte.types._tuples import TUPLE, is_typed_tuple

        return TUPLE if is_typed_tuple(t) else None
    if t is bytes:
        return BYTES
    if isinstance(t, type):
        if issubclass(t, enum.Enum):
            return _collections.ENUM
        if issubclass(t, tuple) and hasattr(t, "_fields"):
            from flyte.types._tuples import NAMED_TUPLE

            return NAMED_TUPLE
        if issubclass(t, dict) and hasattr(t, "__required_keys__"):  # a TypedDict
            from flyte.types._typeddict import TYPED_DICT

            return TYPED_DICT
        if dataclasses.is_dataclass(t):
            from flyte.types._struct import DATACLASS

            return DATACLASS
        if "pydantic" in sys.modules:  # a model class exists only if pydantic is imported: never import it here
            from pydantic import BaseModel

            if issubclass(t, BaseModel):
                from flyte.types._pydantic import PYDANTIC  # imports pydantic

                return PYDANTIC
    return None


_HINTS = {
    list: "use list[T] with an item type, e.g. list[int]",
    tuple: "name the item types, e.g. tuple[int, str] (variable-length tuple[T, ...]: use list[T])",
    set: "use list[T], or Pickled[set[T]] to pickle it",
    frozenset: "use list[T], or Pickled[frozenset[T]] to pickle it",
    typing.Any: "annotate a concrete type, or use Pickled[Any] to pickle it",
    object: "annotate a concrete type, or use Pickled[object] to pickle it",
}


def _unsupported(t: Any, why: str = "") -> TypeTransformerError:
    base = typing.get_origin(t) or t
    try:
        hint = _HINTS.get(base, "")
    except TypeError:
        hint = ""
    hint = hint or (
        "supported are bool, int, float, str, bytes, datetime, date, timedelta, None, list[T], dict[str, T], "
        "dict, Optional/Union, Enum, Literal[str/int/bool...], dataclasses, pydantic models, flyte.io.File/Dir; "
        "register a TypeTransformer (plugin hook flyte_type_transformers) or opt into Pickled[T]"
    )
    return fail(f"Type {type_repr(t)} is not supported{': ' + why if why else ''} ({hint})")


class TypeEngine:
    """Python type <-> flyteidl2 ``LiteralType``/``Literal``.

    Example::

        from flyte.types import TypeEngine

        lt = TypeEngine.to_literal_type(list[int])
        lit = await TypeEngine.to_literal([1, 2], list[int], lt)
        assert await TypeEngine.to_python_value(lit, list[int]) == [1, 2]
    """

    _registry: typing.ClassVar[dict[Any, TypeTransformer[Any]]] = {}
    _plans: typing.ClassVar[dict[Any, TypePlan]] = {}
    _lock = threading.RLock()

    # -- registration -------------------------------------------------------------------

    @classmethod
    def register(
        cls,
        transformer: TypeTransformer[Any],
        additional_types: list[Any] | None = None,
        *,
        override: bool = False,
    ) -> None:
        """Use ``transformer`` for its ``python_type`` (and ``additional_types``).

        A type that already has a registered transformer is an error unless ``override``.
        """
        with cls._lock:
            for t in [transformer.python_type, *(additional_types or [])]:
                existing = cls._registry.get(t)
                if existing is not None and existing is not transformer and not override:
                    raise TypeTransformerError(
                        f"Type {type_repr(t)} already has transformer {existing.name!r}; "
                        f"cannot register {transformer.name!r} (pass override=True to replace it)"
                    )
                cls._registry[t] = transformer
            cls._forget_plans()

    @classmethod
    def unregister(cls, t: Any) -> None:
        """Forget the transformer registered for ``t`` (tests)."""
        with cls._lock:
            cls._registry.pop(t, None)
            cls._forget_plans()

    @classmethod
    def _forget_plans(cls) -> None:
        cls._plans.clear()
        _collections.UNION._variants.clear()

    # -- lookup -------------------------------------------------------------------------

    @classmethod
    def _find(cls, t: Any) -> tuple[TypeTransformer[Any], Any]:
        """(transformer, plugin registry snapshot or None) for a type that is not ``Annotated``."""
        reg = cls._registry
        if reg:
            try:
                hit = reg.get(t)
            except TypeError:
                hit = None
            if hit is None:
                origin = typing.get_origin(t)
                if origin is not None:
                    hit = reg.get(origin)
            if hit is not None:
                return hit, None
        b = _builtin(t)
        if b is not None:
            return b, None
        if reg and isinstance(t, type):
            for base in t.__mro__[1:]:
                hit = reg.get(base)
                if hit is not None:
                    return hit, None
        found = cls._from_plugins(t)
        if found is not None:
            return found
        # As on the official SDK, anything else travels pickled, with a warning (types.pickle: error refuses it).
        if _fallback.policy() == "error":
            raise _unsupported(t, "types.pickle is 'error', so it is not pickled")
        return _fallback.FALLBACK_PICKLE, cls._plugin_snapshot()  # owned by the plugins seen: a new plugin may claim t

    @staticmethod
    def _plugin_snapshot(full: bool = False) -> Any:
        """The plugin transformers; ``full=False``: those loaded so far (at least the built-in plugin's).

        The same object is returned until plugins change, so a plan records it as its owner.
        """
        return get_plugin_manager().transformers.snapshot(full=full)

    @classmethod
    def _plugin_transformers(cls) -> typing.Iterator[tuple[TypeTransformer[Any], Any]]:
        """(transformer, snapshot): the built-in plugin's first, then, once, those of installed plugins.

        Installed plugins are imported only if no loaded plugin answers (like any other registry lookup).
        """
        snapshot = cls._plugin_snapshot()
        for _, tr in snapshot.values():
            yield tr, snapshot
        if not get_plugin_manager().fully_loaded:
            full = cls._plugin_snapshot(full=True)
            for _, tr in full.values():
                yield tr, full

    @classmethod
    def _from_plugins(cls, t: Any) -> tuple[TypeTransformer[Any], Any] | None:
        for tr, snapshot in cls._plugin_transformers():
            try:
                ok = tr.matches(t) if isinstance(tr, TypeTransformer) else tr.python_type is t
            except Exception:
                ok = False
            if ok:
                return tr, snapshot
        return None

    @classmethod
    def get_transformer(cls, t: Any) -> TypeTransformer[Any]:
        """The transformer that handles ``t`` (raises TypeTransformerError if none does)."""
        return cls.plan(t).transformer

    @classmethod
    def plan(cls, t: Any) -> TypePlan:
        """The cached conversion plan for ``t``; raises TypeTransformerError if ``t`` is unsupported."""
        try:
            p = cls._plans.get(t)
        except TypeError:  # unhashable annotation metadata: no caching
            return cls._compile(t)
        if (p is not None and (p.owner is None or p.owner is cls._plugin_snapshot())
                and (p.transformer is not _fallback.FALLBACK_PICKLE or _fallback.policy() == "warn")):
            return p
        with cls._lock:
            p = cls._compile(t)
            cls._plans[t] = p
            return p

    @classmethod
    def _compile(cls, t: Any) -> TypePlan:
        if t is None:
            t = type(None)
        inner = t
        if typing.get_origin(t) is typing.Annotated:
            meta = t.__metadata__
            chosen = next((m for m in meta if isinstance(m, TypeTransformer)), None)
            if chosen is not None:
                tr, owner, inner = chosen, None, typing.get_args(t)[0]
            elif any(m is PICKLE for m in meta):
                tr, owner = PICKLED, None
            else:
                return cls._annotated_plan(t)
        else:
            tr, owner = cls._find(t)
        try:
            lt = tr.get_literal_type(inner)
            enc = tr.sync_encoder(inner, lt)
            dec = tr.sync_decoder(inner)
        except TypeTransformerError as e:
            raise _unsupported(t, str(e)) from None
        except Exception as e:
            raise _unsupported(t, f"{type(e).__name__}: {e}") from e
        if not isinstance(lt, LiteralType):
            raise fail(f"Transformer {tr.name!r} returned {type(lt).__name__} from get_literal_type, not a LiteralType")
        return TypePlan(inner, tr, lt, enc, dec, owner)

    @classmethod
    def _annotated_plan(cls, t: Any) -> TypePlan:
        """``Annotated[X, <other metadata>]``: X's plan; a pickled Literal keeps the full class name."""
        p = cls.plan(typing.get_args(t)[0])
        if p.transformer is LITERAL:  # the official SDK names the pickle after the whole annotation
            lt = LiteralType()
            lt.CopyFrom(p.literal_type)
            lt.metadata.update({"python_class_name": str(t)})
            return TypePlan(p.python_type, p.transformer, lt, p.encode, p.decode, p.owner)
        return p

    @classmethod
    def guess_python_type(cls, literal_type: LiteralType) -> Any:
        """A Python type that reads literals of ``literal_type`` (structs as plain dicts, blobs as File/Dir)."""
        from flyte.types._guess import guess_python_type  # outputs read without their Python type only

        return guess_python_type(literal_type, cls._guess_from_transformers)

    @classmethod
    def _guess_from_transformers(cls, literal_type: LiteralType) -> Any:
        """The Python type a registered or plugin transformer (File, Dir...) claims for ``literal_type``."""
        seen = [*cls._registry.values(), *(tr for tr, _ in cls._plugin_transformers())]
        for tr in seen:
            try:
                return tr.guess_python_type(literal_type)
            except Exception:
                continue
        return None

    # -- conversion ---------------------------------------------------------------------

    @classmethod
    def to_literal_type(cls, t: Any) -> LiteralType:
        """The flyteidl2 ``LiteralType`` of Python type ``t`` (a fresh copy)."""
        lt = LiteralType()
        lt.CopyFrom(cls.plan(t).literal_type)
        return lt

    @classmethod
    async def to_literal(cls, value: Any, t: Any, expected: LiteralType | None = None) -> Literal:
        """Convert ``value`` declared as ``t`` to a ``Literal``."""
        p = cls.plan(t)
        if p.encode is not None:
            return p.encode(value)
        return await p.transformer.to_literal(value, p.python_type, expected or p.literal_type)

    @classmethod
    async def to_python_value(cls, literal: Literal, t: Any) -> Any:
        """Convert ``literal`` to a value of Python type ``t``."""
        p = cls.plan(t)
        try:
            return await p.to_python(literal)
        except Exception as e:
            return await decode_other_forms(p, literal, e)


async def decode_other_forms(p: TypePlan, lit: Literal, err: Exception) -> Any:
    """Read a literal in a form other than the type's own, or re-raise ``err``.

    * offloaded to storage (``offloaded_metadata``): fetched, then read normally;
    * a msgpack ``Binary`` scalar, which the control plane produces when it resolves an
      attribute of a dataclass output (``dc.items``) into another task's input: read with
      the msgpack codec of the type.
    """
    if lit.HasField("offloaded_metadata"):
        return await p.to_python(await unwrap_offloaded(lit))
    if lit.WhichOneof("value") == "scalar" and lit.scalar.WhichOneof("value") == "binary":
        b = lit.scalar.binary
        if b.tag == "msgpack":
            import msgpack

            from flyte.types._msgpack_codec import codec_for

            try:
                codec = codec_for(p.python_type)
            except TypeTransformerError:
                raise err from None
            return codec.from_plain(msgpack.unpackb(b.value, strict_map_key=False))
    raise err


async def unwrap_offloaded(lit: Literal) -> Literal:
    """Read a literal that was offloaded to storage (``offloaded_metadata.uri``)."""
    uri = lit.offloaded_metadata.uri

    def read() -> bytes:
        with storage.open_sync(uri, "rb") as f:
            return f.read()

    out = Literal()
    out.ParseFromString(await asyncio.to_thread(read))
    return out


# list[T], dict[str, T] and unions plan their item types through the engine
_transformer.set_nested_planner(TypeEngine.plan)
