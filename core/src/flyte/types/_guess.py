"""A Python type for a LiteralType, when the original type is not at hand.

Used for tasks known only by their flyteidl2 interface (fetched from a control plane or
written by another SDK). Structs become plain ``dict`` (a dataclass or model is read as
its field map), blobs become File/Dir, enums ``Literal[...]`` of their names (sent as the
enum's string), a pickled ``typing.Literal['a', 'b']`` that Literal (read without running code).
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from flyteidl2.core.types_pb2 import LiteralType, SimpleType

from flyte.types._literal import LITERAL_ENUM, literal_from_class_name
from flyte.types._pickle import PICKLE_FORMAT, Pickled
from flyte.types._transformer import fail

_SIMPLE: dict[int, Any] = {
    SimpleType.INTEGER: int,
    SimpleType.FLOAT: float,
    SimpleType.STRING: str,
    SimpleType.BOOLEAN: bool,
    SimpleType.NONE: type(None),
    SimpleType.DATETIME: __import__("datetime").datetime,
    SimpleType.DURATION: __import__("datetime").timedelta,
    SimpleType.STRUCT: dict,
}


def guess_python_type(lt: LiteralType, guess_blob: Callable[[LiteralType], Any]) -> Any:
    """``guess_blob`` names the type of a (non-pickle) blob: File or Dir, which this layer does not import."""
    kind = lt.WhichOneof("type")
    if kind == "simple":
        t = _SIMPLE.get(lt.simple)
        if t is not None:
            return t
    elif kind == "collection_type":
        return list[guess_python_type(lt.collection_type, guess_blob)]  # type: ignore[misc]
    elif kind == "map_value_type":
        return dict[str, guess_python_type(lt.map_value_type, guess_blob)]  # type: ignore[misc]
    elif kind == "enum_type":
        # a string primitive holding one of the values, at any depth
        return typing.Annotated[typing.Literal[tuple(lt.enum_type.values)], LITERAL_ENUM]
    elif kind == "blob":
        if lt.blob.format == PICKLE_FORMAT:
            return Pickled[Any]  # type: ignore[misc]
        t = guess_blob(lt)
        if t is not None:
            return t
    elif kind == "union_type":
        variants = lt.union_type.variants
        if variants and all(v.structure.tag == "FlytePickle" for v in variants):
            name = lt.metadata.fields["python_class_name"].string_value if lt.HasField("metadata") else ""
            literal = literal_from_class_name(name)
            if literal is not None:  # a pickled Literal: read with the restricted unpickler
                return literal

            return Pickled[Any]  # type: ignore[misc]
        return typing.Union[tuple(guess_python_type(v, guess_blob) for v in variants)]  # noqa: UP007
    raise fail(f"No Python type is known for the literal type {kind or 'empty'}")
