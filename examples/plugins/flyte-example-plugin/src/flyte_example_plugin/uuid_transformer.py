"""``uuid.UUID`` carried as a string literal."""

from __future__ import annotations

import uuid
from typing import Any

from flyte.types import TypeTransformer


class UUIDTransformer(TypeTransformer[uuid.UUID]):
    def __init__(self) -> None:
        super().__init__("uuid", uuid.UUID)

    def get_literal_type(self, t: Any) -> Any:
        from flyteidl2.core import types_pb2

        return types_pb2.LiteralType(simple=types_pb2.SimpleType.STRING)

    async def to_literal(self, python_val: Any, python_type: Any, expected: Any) -> Any:
        from flyteidl2.core import literals_pb2

        if not isinstance(python_val, uuid.UUID):
            raise TypeError(f"expected uuid.UUID, got {type(python_val).__name__}")
        p = literals_pb2.Primitive(string_value=str(python_val))
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=p))

    async def to_python_value(self, lv: Any, expected_python_type: Any) -> uuid.UUID:
        return uuid.UUID(lv.scalar.primitive.string_value)
