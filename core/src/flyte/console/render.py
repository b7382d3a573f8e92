"""Inputs and outputs as the console shows them: flyteidl2 literals rendered to text, without their Python types.

A record keeps literals, not the Python types that made them, so the type shown is read off the
literal (``int``, ``list[str]``, ``File``, ``DataFrame``...). Values are text, cut at
:data:`MAX_VALUE_CHARS`; URLs lose their query strings (signed-URL signatures) and anything
:func:`flyte.storage.redaction.scrub` knows to be secret.
"""

from __future__ import annotations

import json
from typing import Any

MAX_VALUE_CHARS = 10_000
Rendered = list[dict[str, Any]]
# Text is scrubbed before it is cut to MAX_VALUE_CHARS, but only this much of it: a secret across the cut is still
# seen whole by the scrubber, and a 50 MB string is not scanned at every poll of the page.
_SCRUB_CHARS = MAX_VALUE_CHARS + 4_000


class _Budget:
    """How many more literals one value may convert: every item costs at least one character of its text, so past
    MAX_VALUE_CHARS of them the rest is cut anyway (a 2,000,000-item list is not converted at every poll)."""

    def __init__(self, left: float = MAX_VALUE_CHARS + 1) -> None:
        self.left = left

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


class _More:
    """Stands for the items not converted (past the budget): shown as ``…``."""

    def __repr__(self) -> str:
        return "…"


def scrub_text(text: str) -> str:
    from flyte.storage.redaction import scrub

    return scrub(text)


def _redact(url: str) -> str:
    from flyte.storage.redaction import redact_url

    return redact_url(url) if "://" in url else url.split("?", 1)[0]


def _clip(text: str) -> str:
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return text[: MAX_VALUE_CHARS - 1] + "…"


def _plain(lit: Any, budget: _Budget | None = None) -> tuple[str, Any, str | None]:
    """``(type name, plain Python value, uri)`` of a flyteidl2 Literal (containers: their first items, in budget)."""
    budget = budget or _Budget()
    budget.take()
    which = lit.WhichOneof("value")
    if which == "collection":
        items: list[tuple[str, Any, str | None]] = []
        for x in lit.collection.literals:
            if budget.left <= 0:
                items.append(("", _More(), None))
                break
            items.append(_plain(x, budget))
        inner = _common_type([t for t, _, _ in items if t])
        return f"list[{inner}]", [v for _, v, _ in items], None
    if which == "map":
        pairs: dict[str, tuple[str, Any, str | None]] = {}
        for k, v in lit.map.literals.items():
            if budget.left <= 0:
                pairs["…"] = ("", _More(), None)
                break
            pairs[k] = _plain(v, budget)
        inner = _common_type([t for t, _, _ in pairs.values() if t])
        return f"dict[str, {inner}]", {k: v for k, (_, v, _) in pairs.items()}, None
    if which == "offloaded_metadata":
        uri = _redact(lit.offloaded_metadata.uri)
        return "offloaded", f"<offloaded value at {uri}>", uri
    if which != "scalar":
        return "None", None, None
    s = lit.scalar
    kind = s.WhichOneof("value")
    if kind == "primitive":
        p = s.primitive
        pk = p.WhichOneof("value")
        if pk == "integer":
            return "int", p.integer, None
        if pk == "float_value":
            return "float", p.float_value, None
        if pk == "string_value":
            return "str", p.string_value, None
        if pk == "boolean":
            return "bool", p.boolean, None
        if pk == "datetime":
            return "datetime", p.datetime.ToDatetime().isoformat(), None
        if pk == "duration":
            return "timedelta", str(p.duration.ToTimedelta()), None
        return "None", None, None
    if kind == "none_type":
        return "None", None, None
    if kind == "blob":
        uri = _redact(s.blob.uri)
        multipart = s.blob.metadata.type.dimensionality == 1
        return ("Dir" if multipart else "File"), uri, uri
    if kind == "structured_dataset":
        uri = _redact(s.structured_dataset.uri)
        fmt = s.structured_dataset.metadata.structured_dataset_type.format
        return "DataFrame", uri + (f" ({fmt})" if fmt else ""), uri
    if kind == "binary":
        if s.binary.tag == "msgpack":
            import msgpack

            try:
                return "object", msgpack.unpackb(s.binary.value, strict_map_key=False), None
            except Exception:
                pass
        return "bytes", f"<{len(s.binary.value)} bytes, tag {s.binary.tag or '-'}>", None
    if kind == "union":
        return _plain(s.union.value, budget)
    if kind == "generic":
        from google.protobuf.json_format import MessageToDict

        return "dict", MessageToDict(s.generic), None
    if kind == "error":
        return "error", f"<error {s.error.message}>", None
    if kind == "schema":
        uri = _redact(s.schema.uri)
        return "schema", uri, uri
    return str(kind), f"<{kind}>", None


def literal_value(lit: Any) -> Any:
    """A flyteidl2 Literal as a plain Python value, whole (no cut), URLs without their query strings: what
    ``flyte get run`` prints and what the console shows before it cuts the text."""
    return _plain(lit, _Budget(float("inf")))[1]


def _common_type(types: list[str]) -> str:
    kinds = set(types)
    if not kinds:
        return "Any"
    if len(kinds) == 1:
        return kinds.pop()
    return " | ".join(sorted(kinds))


def _text(type_name: str, value: Any) -> str:
    if isinstance(value, str) and type_name in ("str", "File", "Dir", "DataFrame", "offloaded", "datetime",
                                                "timedelta", "bytes", "error", "schema"):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def render_literal(lit: Any, name: str) -> dict[str, Any]:
    type_name, value, uri = _plain(lit)
    text = _text(type_name, value)
    cut = len(text) > _SCRUB_CHARS
    shown = _clip(scrub_text(text[:_SCRUB_CHARS] if cut else text))
    if cut and not shown.endswith("…"):  # the scrubber made the kept part shorter than the cut
        shown = shown[: MAX_VALUE_CHARS - 1] + "…"
    return {"name": name, "type": type_name, "value": shown, "uri": uri}


def render_literal_map(blob: bytes | None) -> Rendered | None:
    """The ``Rendered`` list of a serialized ``LiteralMap`` (None when there is none)."""
    if blob is None:
        return None
    from flyteidl2.core.literals_pb2 import LiteralMap

    m = LiteralMap()
    try:
        m.ParseFromString(blob)
    except Exception as e:
        return [{"name": "?", "type": "unreadable", "value": f"<unreadable literal map: {e}>", "uri": None}]
    return [render_literal(m.literals[k], k) for k in sorted(m.literals)]


def render_literals(literals: Any) -> Rendered:
    """The ``Rendered`` list of named literals: a mapping name -> Literal, or repeated ``NamedLiteral``."""
    items = literals.items() if hasattr(literals, "items") else ((n.name, n.value) for n in literals)
    return [render_literal(lit, name) for name, lit in items]


__all__ = ["MAX_VALUE_CHARS", "Rendered", "literal_value", "render_literal", "render_literal_map", "render_literals",
           "scrub_text"]
