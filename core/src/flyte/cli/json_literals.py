"""CLI values become flyteidl2 literals first, then Python values through the type engine.

So a value typed on the command line is read exactly as the same value arriving over the wire:
dataclass fields of type ``date`` or ``timedelta``, ``File`` fields, nested ``Optional``s and
types added by plugins all work, and errors say which part of the value did not fit.
"""

from __future__ import annotations

from typing import Any

from flyte.cli.value_forms import DATETIME_HINT, DURATION_HINT, parse_bool, parse_datetime, parse_duration


class CliValueError(ValueError):
    """A command-line value does not fit the declared type; the message says where."""


def _primitive(raw: Any, simple: int, where: str) -> Any:
    from flyteidl2.core import literals_pb2, types_pb2

    st = types_pb2.SimpleType
    p = literals_pb2.Primitive()
    if simple == st.INTEGER:
        if isinstance(raw, bool) or not isinstance(raw, int):
            if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
                raw = int(raw)
            else:
                raise CliValueError(f"{where}: expected an integer, got {raw!r}")
        p.integer = raw
    elif simple == st.FLOAT:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise CliValueError(f"{where}: expected a number, got {raw!r}")
        try:
            p.float_value = float(raw)
        except ValueError:
            raise CliValueError(f"{where}: expected a number, got {raw!r}") from None
    elif simple == st.STRING:
        if not isinstance(raw, str):
            raise CliValueError(f"{where}: expected a string, got {raw!r}")
        p.string_value = raw
    elif simple == st.BOOLEAN:
        if not isinstance(raw, bool | str):
            raise CliValueError(f"{where}: expected true or false, got {raw!r}")
        try:
            p.boolean = parse_bool(raw, where)
        except ValueError as e:
            raise CliValueError(str(e)) from None
    elif simple == st.DATETIME:
        if not isinstance(raw, str):
            raise CliValueError(f"{where}: expected a datetime ({DATETIME_HINT}), got {raw!r}")
        try:
            p.datetime.FromDatetime(parse_datetime(raw, where))
        except ValueError as e:
            raise CliValueError(str(e)) from None
    elif simple == st.DURATION:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise CliValueError(f"{where}: expected a duration ({DURATION_HINT}), got {raw!r}")
        try:
            p.duration.FromTimedelta(parse_duration(raw, where))
        except ValueError as e:
            raise CliValueError(str(e)) from None
    else:
        return None
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=p))


def to_literal(raw: Any, lt: Any, where: str = "value") -> Any:
    """Build the Literal of LiteralType ``lt`` that the parsed JSON (or plain string) ``raw`` stands for."""
    import msgpack
    from flyteidl2.core import literals_pb2, types_pb2

    kind = lt.WhichOneof("type")
    if kind == "simple":
        st = types_pb2.SimpleType
        if lt.simple == st.NONE:
            if raw is not None:
                raise CliValueError(f"{where}: expected null, got {raw!r}")
            return literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))
        if lt.simple == st.STRUCT:
            # dataclasses, pydantic models and untyped dicts travel as msgpack structs
            binary = literals_pb2.Binary(value=msgpack.packb(raw), tag="msgpack")
            return literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=binary))
        lit = _primitive(raw, lt.simple, where)
        if lit is None:
            raise CliValueError(f"{where}: this type cannot be given on the command line")
        return lit
    if kind == "enum_type":
        if raw not in lt.enum_type.values:
            raise CliValueError(f"{where}: expected one of {list(lt.enum_type.values)}, got {raw!r}")
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=raw)))
    if kind == "collection_type":
        if not isinstance(raw, list):
            raise CliValueError(f"{where}: expected a JSON list, got {raw!r}")
        items = [to_literal(x, lt.collection_type, f"{where}[{i}]") for i, x in enumerate(raw)]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    if kind == "map_value_type":
        if not isinstance(raw, dict):
            raise CliValueError(f"{where}: expected a JSON object, got {raw!r}")
        entries = {str(k): to_literal(v, lt.map_value_type, f"{where}[{k!r}]") for k, v in raw.items()}
        return literals_pb2.Literal(map=literals_pb2.LiteralMap(literals=entries))
    if kind == "blob":
        path = raw.get("path") if isinstance(raw, dict) else raw
        if not isinstance(path, str) or not path:
            raise CliValueError(f"{where}: expected a path or URL, got {raw!r}")
        blob = literals_pb2.Blob(uri=path, metadata=literals_pb2.BlobMetadata(type=lt.blob))
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=blob))
    if kind == "union_type":
        errors = []
        # a plain string fits a str variant, so try every other variant first (``int | str``: "3" is 3)
        variants = sorted(lt.union_type.variants, key=lambda v: v.WhichOneof("type") == "simple"
                          and v.simple == types_pb2.SimpleType.STRING)
        for variant in variants:
            try:
                inner = to_literal(raw, variant, where)
            except CliValueError as e:
                errors.append(str(e))
                continue
            union = literals_pb2.Union(value=inner, type=variant)
            return literals_pb2.Literal(scalar=literals_pb2.Scalar(union=union))
        raise CliValueError(f"{where}: {raw!r} fits none of the union's types ({'; '.join(errors)})")
    raise CliValueError(f"{where}: this type cannot be given on the command line")


def decode(lit: Any, plan: Any, where: str) -> Any:
    """The Python value of ``lit`` through the type engine's ``plan`` for the declared type."""
    try:
        if plan.decode is not None:
            return plan.decode(lit)
        from flyte._syncify import run_sync

        return run_sync(plan.to_python, lit)
    except (TypeError, ValueError, KeyError) as e:
        raise CliValueError(f"{where}: {e}") from None


def to_python(raw: Any, t: Any, where: str) -> Any:
    """``raw`` (parsed JSON or a plain string) as a value of Python type ``t``, through the type engine."""
    from flyte.types import TypeEngine

    plan = TypeEngine.plan(t)
    return decode(to_literal(raw, plan.literal_type, where), plan, where)
