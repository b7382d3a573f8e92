"""What File and Dir share: the four fields, upload-on-convert, and their transformers.

Wire facts (official SDK 2.12.1): a File is a ``Blob`` literal with dimensionality
SINGLE, a Dir one with MULTIPART; ``format`` is the object's format (``""`` by default)
and the LiteralType's format is always ``""``; the object's ``hash`` travels as
``Literal.hash``. Inside a dataclass or model both are the map
``{"path", "name", "format", "hash"}``.

Where data goes: converting a File/Dir whose path is local to a literal *inside a run*
(:func:`flyte._context.raw_data_path` is set) uploads it to
``<raw data path>/<random hex>/<name>`` once per object and run. Outside a run the local
path is kept as is: nothing is copied.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from flyte.types._transformer import Decoder, TypeTransformer, fail

if TYPE_CHECKING:
    from flyteidl2.core.literals_pb2 import Literal
    from flyteidl2.core.types_pb2 import LiteralType

SINGLE = 0  # flyteidl2 BlobType.BlobDimensionality.SINGLE
MULTIPART = 1


def local_path_of(path: str) -> str:
    return path[len("file://") :] if path.startswith("file://") else path


class BlobBase:
    """Base of :class:`flyte.io.File` and :class:`flyte.io.Dir` (do not use directly)."""

    __slots__ = ("_uploaded", "format", "hash", "name", "path")

    _dimensionality: ClassVar[int] = SINGLE
    _schema_title: ClassVar[str] = ""
    _schema_description: ClassVar[str] = ""

    def __init__(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        format: str = "",
        hash: str | None = None,
    ) -> None:
        self.path: str = os.fspath(path)
        self.name: str | None = name if name is not None else os.path.basename(self.path.rstrip("/"))
        self.format: str = format or ""
        self.hash: str | None = hash or None
        self._uploaded: tuple[str, str] | None = None  # (raw data path, uri) of the last upload

    # -- value semantics ------------------------------------------------------------------

    def _key(self) -> tuple[Any, ...]:
        return (self.path, self.name, self.format, self.hash)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BlobBase) or other._dimensionality != self._dimensionality:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._key()))

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in (("format", self.format), ("hash", self.hash)) if v)
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r}{extra})"

    def __fspath__(self) -> str:
        return local_path_of(self.path)

    @property
    def is_remote(self) -> bool:
        import flyte.storage as storage

        return storage.is_remote(self.path)

    # -- upload when crossing a task boundary ---------------------------------------------

    async def _uri_for_literal(self) -> str:
        """The URI to put on the wire: the path itself, or where it was uploaded inside a run."""
        from flyte._context import raw_data_path

        raw = raw_data_path()
        if raw is None:
            return self.path
        import flyte.storage as storage

        if storage.is_remote(self.path):
            return self.path
        local = os.path.abspath(local_path_of(self.path))
        if not storage.is_remote(raw) and local.startswith(os.path.abspath(local_path_of(raw)) + os.sep):
            return self.path  # already under this run's data
        if self._uploaded is not None and self._uploaded[0] == raw:
            return self._uploaded[1]
        if not os.path.exists(local):
            raise fail(f"{type(self).__name__} {self.path!r} does not exist, so it cannot be uploaded")
        uri = storage.join(raw, uuid.uuid4().hex, self.name or os.path.basename(local.rstrip(os.sep)))
        await storage.put(local, uri, recursive=self._dimensionality == MULTIPART)
        self._uploaded = (raw, uri)
        return uri

    # -- pydantic (only used if a model has a File/Dir field) -----------------------------

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        def validate(v: Any) -> Any:
            if isinstance(v, cls):
                return v
            if isinstance(v, dict) and "path" in v:
                return cls(path=v["path"], name=v.get("name"), format=v.get("format") or "", hash=v.get("hash"))
            if isinstance(v, (str, os.PathLike)):
                return cls(path=v)
            raise ValueError(f"expected a {cls.__name__}, a path or a {{'path': ...}} map")

        def serialize(v: Any) -> dict[str, Any]:
            from flyte.types._msgpack_codec import UPLOADED

            uploaded = UPLOADED.get()
            path = uploaded.get(id(v), v.path) if uploaded else v.path
            return {"path": path, "name": v.name, "format": v.format, "hash": v.hash}

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(serialize),
            ref=f"{cls.__module__}.{cls.__qualname__}:{id(cls)}",
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        from flyte.types._struct_schema import _blob_schema

        # as pydantic shows the official (BaseModel) File/Dir: under $defs, with x-flyte-type
        return {**_blob_schema(cls._schema_title, cls._schema_description), "x-flyte-type": cls._schema_title.lower()}


def is_blob_type(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BlobBase)


class BlobTransformer(TypeTransformer[BlobBase]):
    def __init__(self, name: str, t: type[BlobBase]) -> None:
        super().__init__(name, t)
        self._dim = t._dimensionality
        from flyteidl2.core.types_pb2 import BlobType, LiteralType

        self._lt = LiteralType(blob=BlobType(format="", dimensionality=self._dim))

    def get_literal_type(self, t: Any = None) -> LiteralType:
        return self._lt

    async def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType) -> Literal:
        from flyteidl2.core.literals_pb2 import Literal

        kind = self._t.__name__
        if not isinstance(python_val, self._t):
            raise fail(f"Expected a flyte.io.{kind}, got {type(python_val).__name__}")
        uri = await python_val._uri_for_literal()
        lit = Literal()
        blob = lit.scalar.blob
        blob.uri = uri
        blob.metadata.type.format = python_val.format
        blob.metadata.type.dimensionality = self._dim
        if python_val.hash:
            lit.hash = python_val.hash
        return lit

    def sync_decoder(self, t: Any) -> Decoder:
        dim = self._dim
        kind = self._t.__name__
        t = getattr(t, "__origin__", None) or t  # File[csv] -> File

        def dec(lit: Literal) -> Any:
            if lit.WhichOneof("value") != "scalar" or lit.scalar.WhichOneof("value") != "blob":
                raise fail(f"Expected a blob literal for {kind}")
            b = lit.scalar.blob
            if b.metadata.type.dimensionality != dim:
                want = "single-part" if dim == SINGLE else "multipart"
                raise fail(f"Expected a {want} blob for {kind}")
            uri = b.uri
            return t(path=uri, name=os.path.basename(uri.rstrip("/")), format=b.metadata.type.format, hash=lit.hash)

        return dec


_transformers: dict[type, BlobTransformer] = {}


def transformer_for(t: type) -> BlobTransformer | None:
    """The File or Dir transformer for ``t`` (or a subclass), else None."""
    if not issubclass(t, BlobBase):
        return None
    from flyte.io._dir import Dir
    from flyte.io._file import File

    base = File if issubclass(t, File) else Dir if issubclass(t, Dir) else None
    if base is None:
        return None
    tr = _transformers.get(base)
    if tr is None:
        tr = _transformers[base] = BlobTransformer(base.__name__, base)
    return tr
