"""The transformers of :class:`flyte.io.File` and :class:`flyte.io.Dir`.

The built-in plugin returns :data:`FILE` and :data:`DIR` from its ``flyte_type_transformers``
hook, so the type engine (a lower layer) finds them like any plugin's transformer. Wire facts:
see :mod:`flyte.types._blob`.
"""

from __future__ import annotations

import os
from typing import Any

from flyteidl2.core.literals_pb2 import Literal
from flyteidl2.core.types_pb2 import BlobType, LiteralType

from flyte.io._blob import SINGLE, BlobBase
from flyte.io._dir import Dir
from flyte.io._file import File
from flyte.types._pickle import PICKLE_FORMAT
from flyte.types._transformer import Decoder, TypeTransformer, fail


class BlobTransformer(TypeTransformer[BlobBase]):
    def __init__(self, name: str, t: type[BlobBase]) -> None:
        super().__init__(name, t)
        self._dim = t._dimensionality
        self._lt = LiteralType(blob=BlobType(format="", dimensionality=self._dim))

    def get_literal_type(self, t: Any = None) -> LiteralType:
        return self._lt

    async def to_literal(self, python_val: Any, python_type: Any, expected: LiteralType) -> Literal:
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

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        """File for a single-part blob type, Dir for a multipart one (a pickle is not ours)."""
        if (
            literal_type.WhichOneof("type") == "blob"
            and literal_type.blob.dimensionality == self._dim
            and literal_type.blob.format != PICKLE_FORMAT
        ):
            return self._t
        return super().guess_python_type(literal_type)


FILE = BlobTransformer("File", File)
DIR = BlobTransformer("Dir", Dir)
