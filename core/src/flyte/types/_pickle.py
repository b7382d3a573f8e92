"""Pickle, only when asked for: ``Pickled[T]``; and ``bytes``, which rides the same encoding.

The engine never falls back to pickle on its own. Annotating a parameter
``Pickled[set[int]]`` opts that one value in. Wire facts (official SDK 2.12.1, where
every type without a transformer is pickled): the LiteralType is a union of a
``PythonPickle`` single blob and a BINARY simple type, both tagged ``FlytePickle``, with
``metadata.python_class_name``; a value whose ``sys.getsizeof`` is at most 10 KiB is an
untagged ``Binary`` scalar of its pickle, a larger one a blob holding the pickle file.

``bytes`` has no transformer of its own in the official SDK, so it travels as such a
pickle. We write it the same way, and read it back with an unpickler that refuses any
global, so decoding a ``bytes`` input never runs code. ``typing.Literal`` outside the top
level of a task signature is such a pickle too in the official SDK; ``_literal`` reads it
with the same unpickler (:func:`load_plain_pickle`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import pickle
import sys
import typing
from typing import Annotated, Any, TypeVar

from flyteidl2.core.literals_pb2 import Literal
from flyteidl2.core.types_pb2 import BlobType, LiteralType, SimpleType

import flyte.storage as storage
from flyte.errors import TypeTransformerError
from flyte.storage import data_access
from flyte.types._transformer import TypeTransformer, fail, type_repr

T = TypeVar("T")

PICKLE_FORMAT = "PythonPickle"
INLINE_LIMIT = 10 * 1024


class _PickleMarker:
    def __repr__(self) -> str:
        return "pickle"


PICKLE = _PickleMarker()

Pickled = Annotated[T, PICKLE]
"""Opt one value into pickling: ``def f(x: Pickled[set[int]]) -> Pickled[MyObject]``.

Pickles only load in the same Python (and library versions) that wrote them, and
unpickling runs code: use it for values no transformer can carry, between your own tasks.
"""


def is_pickled(t: Any) -> bool:
    return typing.get_origin(t) is Annotated and any(a is PICKLE for a in t.__metadata__)


def pickle_literal_type(class_name: str) -> LiteralType:
    lt = LiteralType()
    blob = lt.union_type.variants.add()
    blob.blob.format = PICKLE_FORMAT
    blob.blob.dimensionality = BlobType.BlobDimensionality.SINGLE
    blob.structure.tag = "FlytePickle"
    binary = lt.union_type.variants.add()
    binary.simple = SimpleType.BINARY
    binary.structure.tag = "FlytePickle"
    lt.metadata.update({"python_class_name": class_name})
    return lt


async def pickle_to_literal(v: Any, data: bytes) -> Literal:
    """A large value goes to the run's raw data through its data access; outside a run it stays inline."""
    lit = Literal()
    da = data_access.current() if sys.getsizeof(v) > INLINE_LIMIT else None
    if da is None:
        lit.scalar.binary.value = data
    else:
        uri = await da.write_bytes(data, hashlib.md5(data).hexdigest())
        blob = lit.scalar.blob
        blob.uri = uri
        blob.metadata.type.format = PICKLE_FORMAT
        blob.metadata.type.dimensionality = BlobType.BlobDimensionality.SINGLE
    if isinstance(v, (set, frozenset)):  # set pickles vary with the hash seed: give caches a stable hash
        with contextlib.suppress(TypeError):
            lit.hash = hashlib.md5(pickle.dumps(sorted(v), protocol=5)).hexdigest()
    return lit


async def pickle_bytes(lv: Literal) -> bytes:
    s = lv.scalar
    kind = s.WhichOneof("value") if lv.WhichOneof("value") == "scalar" else None
    if kind == "binary" and s.binary.value:
        return s.binary.value
    if kind == "blob" and s.blob.uri:

        def read() -> bytes:
            with storage.open_sync(s.blob.uri, "rb") as f:
                return f.read()

        return await asyncio.to_thread(read)
    raise fail("Expected a pickle (binary or blob scalar) literal")


class PickleTransformer(TypeTransformer[Any]):
    """``Pickled[T]``: the explicit, opt-in pickle transport."""

    def __init__(self) -> None:
        super().__init__("FlytePickle", Pickled)

    def get_literal_type(self, t: Any) -> LiteralType:
        inner = typing.get_args(t)[0] if is_pickled(t) else t
        return pickle_literal_type(str(inner))

    async def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType) -> Literal:
        if python_val is None:
            raise fail("Cannot pickle None; use Optional[Pickled[T]]")
        try:
            data = pickle.dumps(python_val, protocol=5)
        except Exception as e:
            raise fail(f"Cannot pickle {type(python_val).__name__}: {e}") from e
        return await pickle_to_literal(python_val, data)

    async def to_python_value(self, lv: Literal, expected_python_type: Any) -> Any:
        return pickle.loads(await pickle_bytes(lv))


class _NoGlobals(pickle.Unpickler):
    """An unpickler that refuses every global but the ``allowed`` classes, so loading runs no other code."""

    def __init__(self, file: Any, what: str, allowed: tuple[type, ...] = ()) -> None:
        super().__init__(file)
        self._what = what
        self._allowed = {(c.__module__, c.__qualname__): c for c in allowed}

    def find_class(self, module: str, name: str) -> Any:
        found = self._allowed.get((module, name))
        if found is not None:
            return found
        raise fail(f"{self._what} must not reference {module}.{name}; refusing to unpickle it")


def load_plain_pickle(data: bytes, what: str, allowed: tuple[type, ...] = ()) -> Any:
    """Unpickle ``data`` without resolving any global (no classes, no functions: no code runs).

    ``what`` names the literal in errors ("a bytes literal"). Only plain built-in data
    (str, int, bool, bytes, containers of them...) can come out, and members of the ``allowed``
    classes (enum classes of a ``Literal``, resolved to the very classes given); callers check the type.
    """
    try:
        return _NoGlobals(io.BytesIO(data), what, allowed).load()
    except TypeTransformerError:
        raise
    except Exception as e:  # UnpicklingError, EOFError, ValueError... on malformed data
        raise fail(f"Cannot read {what}: {type(e).__name__}: {e}") from e


class BytesTransformer(TypeTransformer[bytes]):
    """``bytes``, in the official SDK's (pickle) encoding, read back without running code."""

    def __init__(self) -> None:
        super().__init__("FlytePickle", bytes)
        self._lt = pickle_literal_type(str(bytes))

    def get_literal_type(self, t: Any = None) -> LiteralType:
        return self._lt

    async def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType) -> Literal:
        if not isinstance(python_val, (bytes, bytearray, memoryview)):
            raise fail(f"Expected bytes, got {type(python_val).__name__}")
        v = bytes(python_val)
        return await pickle_to_literal(v, pickle.dumps(v, protocol=5))

    async def to_python_value(self, lv: Literal, expected_python_type: Any) -> bytes:
        v = load_plain_pickle(await pickle_bytes(lv), "a bytes literal")
        if not isinstance(v, bytes):
            raise fail(f"Expected the literal to hold bytes, it holds {type_repr(type(v))}")
        return v


PICKLED = PickleTransformer()
BYTES = BytesTransformer()
