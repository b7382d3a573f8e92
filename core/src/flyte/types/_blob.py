"""Blob references as the codec sees them: the four wire fields, and the URI that goes on the wire.

:class:`flyte.io.File` and :class:`flyte.io.Dir` build on :class:`BlobRef`; the type engine
knows only this base, so it can carry them inside dataclasses, models and dicts without
importing :mod:`flyte.io` (a higher layer). Their transformers come from the built-in plugin.

Wire facts (official SDK 2.12.1): a File is a ``Blob`` literal with dimensionality SINGLE,
a Dir one with MULTIPART; ``format`` is the object's format (``""`` by default) and the
LiteralType's format is always ``""``; the object's ``hash`` travels as ``Literal.hash``.
Inside a dataclass or model both are the map ``{"path", "name", "format", "hash"}``.

Where data goes: the URI of a reference whose path is local is where the running task's
data access (:func:`flyte.storage.data_access.current`) uploaded it, once per object and raw
data prefix. With no data access in place (no run) the local path is kept: nothing is copied.
"""

from __future__ import annotations

import contextvars
import os
from typing import Any, ClassVar

from flyte.storage import data_access as _data_access
from flyte.storage import is_remote
from flyte.types._transformer import fail

SINGLE = 0  # flyteidl2 BlobType.BlobDimensionality.SINGLE
MULTIPART = 1

# id(File/Dir) -> uploaded URI, set while an async encode of a value holding local files runs
UPLOADED: contextvars.ContextVar[dict[int, str] | None] = contextvars.ContextVar("flyte_uploaded", default=None)


# The path of ``flyte.io.Dir.empty()`` ("no folder was produced"), as the official SDK writes it on the wire:
# no scheme and leading colons, so it is never a real local or object-store path, and it is never uploaded.
EMPTY_DIR_PATH = "::flyte-empty-dir::"


def local_path_of(path: str) -> str:
    return path[len("file://") :] if path.startswith("file://") else path


def blob_schema(title: str, description: str) -> dict[str, Any]:
    """The JSON schema of a File/Dir field, as the official SDK's pydantic models show it."""
    nullable_str = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    return {
        "title": title,
        "type": "object",
        "description": description,
        "required": ["path"],
        "properties": {
            "path": {"title": "Path", "type": "string"},
            "name": {**nullable_str, "title": "Name"},
            "format": {"default": "", "title": "Format", "type": "string"},
            "hash": {**nullable_str, "title": "Hash"},
        },
    }


class BlobRef:
    """A reference to a file or folder: ``path``, ``name``, ``format``, ``hash`` (base of File and Dir)."""

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
        self._uploaded: tuple[str, str] | None = None  # (raw data prefix, uri) of the last upload

    # -- value semantics ------------------------------------------------------------------

    def _key(self) -> tuple[Any, ...]:
        return (self.path, self.name, self.format, self.hash)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BlobRef) or other._dimensionality != self._dimensionality:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._key()))

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in (("format", self.format), ("hash", self.hash)) if v)
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r}{extra})"

    def __fspath__(self) -> str:
        return local_path_of(self.path)

    # -- the URI on the wire ----------------------------------------------------------------

    async def _uri_for_literal(self) -> str:
        """The URI to put on the wire: the path itself, or where the running task's data access put it."""
        da = _data_access.current()
        if da is None or is_remote(self.path) or self.path == EMPTY_DIR_PATH or da.holds(self.path):
            return self.path
        raw = da.raw_data_path
        if self._uploaded is not None and self._uploaded[0] == raw:
            return self._uploaded[1]
        local = os.path.abspath(local_path_of(self.path))
        if not os.path.exists(local):
            raise fail(f"{type(self).__name__} {self.path!r} does not exist, so it cannot be uploaded")
        uri = await da.upload(local, self.name or os.path.basename(local.rstrip(os.sep)))
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
        # as pydantic shows the official (BaseModel) File/Dir: under $defs, with x-flyte-type
        return {**blob_schema(cls._schema_title, cls._schema_description), "x-flyte-type": cls._schema_title.lower()}


def is_blob_type(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BlobRef)
