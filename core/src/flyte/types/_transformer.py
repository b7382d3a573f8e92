"""The transformer contract and the compiled per-type plan the engine hands out.

A :class:`TypeTransformer` converts one family of Python types to and from flyteidl2
``Literal``/``LiteralType``. Its shape follows the official Flyte 2 SDK so that a
transformer written for it ports by changing imports.

Built-in transformers can additionally return *synchronous* converter callables from
:meth:`TypeTransformer.sync_encoder` / :meth:`TypeTransformer.sync_decoder`. The engine
compiles each Python type once into a :class:`TypePlan`; a plan whose converters are
synchronous is converted without creating a coroutine, which is what keeps the
per-task cost of primitives in the microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from flyte.errors import TypeTransformerError

if TYPE_CHECKING:
    from flyteidl2.core.literals_pb2 import Literal
    from flyteidl2.core.types_pb2 import LiteralType

T = TypeVar("T")

Encoder = Callable[[Any], "Literal"]
Decoder = Callable[["Literal"], Any]


class TypeTransformer(Generic[T]):
    """Converts values of one Python type family to and from flyteidl2 literals.

    Subclass, pass a unique ``name`` and the ``python_type`` handled, and implement
    :meth:`get_literal_type`, :meth:`to_literal` and :meth:`to_python_value`. Register
    the instance with :meth:`flyte.types.TypeEngine.register` or return it from the
    ``flyte_type_transformers`` plugin hook.

    Example::

        import decimal
        from flyteidl2.core import literals_pb2, types_pb2
        from flyte.types import TypeTransformer

        class DecimalTransformer(TypeTransformer[decimal.Decimal]):
            def __init__(self):
                super().__init__("decimal", decimal.Decimal)

            def get_literal_type(self, t):
                return types_pb2.LiteralType(simple=types_pb2.SimpleType.STRING)

            async def to_literal(self, v, t, expected):
                p = literals_pb2.Primitive(string_value=str(v))
                return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=p))

            async def to_python_value(self, lv, t):
                return decimal.Decimal(lv.scalar.primitive.string_value)
    """

    def __init__(self, name: str, t: type[T] | Any, enable_type_assertions: bool = True) -> None:
        self._name = name
        self._t = t
        self._type_assertions_enabled = enable_type_assertions

    @property
    def name(self) -> str:
        """Unique name; it is also the union variant tag on the wire (``structure.tag``)."""
        return self._name

    @property
    def python_type(self) -> Any:
        """The Python type (or base class) this transformer handles."""
        return self._t

    @property
    def type_assertions_enabled(self) -> bool:
        return self._type_assertions_enabled

    def matches(self, t: Any) -> bool:
        """Whether this transformer handles ``t`` (used for plugin transformers on a lookup miss).

        The default accepts ``python_type`` itself, its subclasses and its parametrizations
        (``MyGeneric[int]`` when ``python_type`` is ``MyGeneric``).
        """
        pt = self._t
        if t is pt:
            return True
        origin = getattr(t, "__origin__", None)
        if origin is not None and origin is pt:
            return True
        try:
            return isinstance(t, type) and isinstance(pt, type) and issubclass(t, pt)
        except TypeError:
            return False

    def get_literal_type(self, t: type[T]) -> LiteralType:
        """The flyteidl2 ``LiteralType`` that describes ``t`` on the wire."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_literal_type")

    async def to_literal(self, python_val: T, python_type: type[T], expected: LiteralType) -> Literal:
        """Convert ``python_val`` (declared as ``python_type``) to a ``Literal``.

        Raise :class:`flyte.errors.TypeTransformerError` (or ``TypeError``/``ValueError``)
        when the value does not fit the type.
        """
        enc = self.sync_encoder(python_type, expected)
        if enc is None:
            raise NotImplementedError(f"{type(self).__name__} must implement to_literal")
        return enc(python_val)

    async def to_python_value(self, lv: Literal, expected_python_type: type[T]) -> T | None:
        """Convert ``lv`` back to a value of ``expected_python_type``."""
        dec = self.sync_decoder(expected_python_type)
        if dec is None:
            raise NotImplementedError(f"{type(self).__name__} must implement to_python_value")
        return dec(lv)

    # -- official-SDK compatibility (so ported transformers keep working) -----------------

    def assert_type(self, t: Any, v: Any) -> None:
        """Raise if ``v`` is not a ``t``. Not called by the engine: ``to_literal`` validates."""
        if isinstance(t, type) and not isinstance(v, t):
            raise TypeTransformerError(f"Expected a value of type {type_repr(t)}, got {type(v).__name__}")

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        """The Python type for a LiteralType, when a transformer can tell (default: it cannot)."""
        raise ValueError(f"{self.name} cannot guess a Python type for {literal_type}")

    def to_html(self, python_val: Any, expected_python_type: Any) -> str:
        return str(python_val)

    # -- optional fast path (built-ins) ------------------------------------------------

    def sync_encoder(self, t: Any, lt: LiteralType) -> Encoder | None:
        """A synchronous ``value -> Literal`` callable for ``t``, or ``None`` if conversion needs I/O."""
        return None

    def sync_decoder(self, t: Any) -> Decoder | None:
        """A synchronous ``Literal -> value`` callable for ``t``, or ``None`` if conversion needs I/O."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name!r} for {self._t!r}>"


TypeTransformerFailedError = TypeTransformerError
"""The official SDK's name for a conversion error; the same class as flyte.errors.TypeTransformerError."""


_nested_planner: Callable[[Any], TypePlan] | None = None


def set_nested_planner(planner: Callable[[Any], TypePlan]) -> None:
    """Set how compound transformers plan their item types (the engine's ``plan``; set when it is imported).

    ``list[T]`` needs the plan of ``T``, and the engine needs the list transformer: the engine
    passes itself down here instead of the transformers importing it back.
    """
    global _nested_planner
    _nested_planner = planner


def nested_plan(t: Any) -> TypePlan:
    """The engine's plan for an item type ``t`` of a compound type (see :func:`set_nested_planner`)."""
    planner = _nested_planner
    if planner is None:
        raise RuntimeError("the type engine is not loaded: import flyte.types.TypeEngine first")
    return planner(t)


def type_repr(t: Any) -> str:
    """A short, readable name for a type annotation (``list[int]``, ``Optional[str]``, ``Foo``)."""
    if isinstance(t, type) and not getattr(t, "__args__", None):
        return t.__qualname__ if t.__module__ in ("builtins", "__main__") else f"{t.__module__}.{t.__qualname__}"
    s = repr(t)
    return s.replace("typing.", "")


def value_repr(v: Any, limit: int = 60) -> str:
    try:
        s = repr(v)
    except Exception:
        s = f"<{type(v).__name__}>"
    return s if len(s) <= limit else s[: limit - 3] + "..."


def fail(msg: str) -> TypeTransformerError:
    return TypeTransformerError(msg)


class TypePlan:
    """How one Python type is converted, computed once per type by the engine.

    ``encode``/``decode`` are synchronous converters when the transformer offers them;
    otherwise the async transformer methods are used.
    """

    __slots__ = ("decode", "encode", "literal_type", "owner", "python_type", "transformer")

    def __init__(
        self,
        python_type: Any,
        transformer: TypeTransformer[Any],
        literal_type: LiteralType,
        encode: Encoder | None,
        decode: Decoder | None,
        owner: Any = None,
    ) -> None:
        self.python_type = python_type
        self.transformer = transformer
        self.literal_type = literal_type
        self.encode = encode
        self.decode = decode
        # the plugin registry snapshot a plugin-provided plan came from (None for built-ins)
        self.owner = owner

    @property
    def is_sync(self) -> bool:
        return self.encode is not None and self.decode is not None

    async def to_literal(self, value: Any) -> Literal:
        enc = self.encode
        if enc is not None:
            return enc(value)
        return await self.transformer.to_literal(value, self.python_type, self.literal_type)

    async def to_python(self, lit: Literal) -> Any:
        dec = self.decode
        if dec is not None:
            return dec(lit)
        return await self.transformer.to_python_value(lit, self.python_type)

    def __repr__(self) -> str:
        return f"<TypePlan {type_repr(self.python_type)} via {self.transformer.name!r}>"
