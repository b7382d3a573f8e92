"""Names the official SDK's examples import from its private ``flyte.types._type_engine``.

Kept as cheap aliases so such code runs unchanged (docs/compatibility.md lists every private name
kept); new code should import from :mod:`flyte.types`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte.types._collections import DictTransformer, EnumTransformer, ListTransformer, UnionTransformer
from flyte.types._engine import TypeEngine
from flyte.types._struct import DataclassTransformer
from flyte.types._transformer import TypeTransformer, TypeTransformerFailedError

if TYPE_CHECKING:
    from flyte.types._pydantic import PydanticTransformer

MESSAGEPACK = "msgpack"
CACHE_KEY_METADATA = "cache-key-metadata"
SERIALIZATION_FORMAT = "serialization-format"


def __getattr__(name: str) -> object:
    if name == "PydanticTransformer":  # imports pydantic: only when asked for
        from flyte.types._pydantic import PydanticTransformer

        return PydanticTransformer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r} (flyte-core keeps only the names listed "
                         "under 'Private names kept' in docs/compatibility.md)")


__all__ = [
    "CACHE_KEY_METADATA",
    "MESSAGEPACK",
    "SERIALIZATION_FORMAT",
    "DataclassTransformer",
    "DictTransformer",
    "EnumTransformer",
    "ListTransformer",
    "PydanticTransformer",
    "TypeEngine",
    "TypeTransformer",
    "TypeTransformerFailedError",
    "UnionTransformer",
]
