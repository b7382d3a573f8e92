"""A task's typed signature, computed once at decoration, and the per-call conversions.

The runtime calls, for every task invocation::

    iface = NativeInterface.from_function(func, "my_task")        # once, at decoration
    lits = await inputs_to_literals(iface, args, kwargs)          # caller side
    kwargs = await literals_to_inputs(iface, lits)                # task side
    out = await outputs_to_literals(iface, func(**kwargs))        # task side
    value = await literals_to_outputs(iface, out)                 # caller side
    key = literals_hash(lits)                                     # cache key part
    params = await default_inputs(iface)                          # TaskSpec default_inputs

Every parameter's converter is chosen at decoration time; for scalars the per-call path is
a dict walk and one small function call per argument.
"""

from __future__ import annotations

import hashlib
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flyteidl2.core.interface_pb2 import TypedInterface, Variable, VariableEntry, VariableMap
from flyteidl2.core.literals_pb2 import Literal
from flyteidl2.core.types_pb2 import LiteralType

from flyte.errors import InvalidInputError, TaskDefinitionError, TypeTransformerError
from flyte.types._engine import TypeEngine, decode_other_forms
from flyte.types._literal import signature_type
from flyte.types._transformer import TypePlan, type_repr, value_repr

EMPTY = inspect.Parameter.empty


def output_name(i: int) -> str:
    """The official SDK's name of the i-th output: ``o0``, ``o1``..."""
    return f"o{i}"


def _is_named_tuple(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields") and hasattr(t, "__annotations__")


def split_return(task: str, ret: Any) -> tuple[dict[str, Any], type | None]:
    """Output names and types from a return annotation, the official SDK's way.

    ``None``/missing: no outputs; a NamedTuple: one output per field, by field name;
    ``tuple[A, B]``: ``o0``, ``o1``; anything else: a single ``o0``.
    Returns (outputs, the NamedTuple class or None).
    """
    if ret is None or ret is type(None) or ret is EMPTY:
        return {}, None
    if _is_named_tuple(ret):
        return dict(typing.get_type_hints(ret, include_extras=True)), ret
    if typing.get_origin(ret) is tuple:
        args = typing.get_args(ret)
        if len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis):
            raise TaskDefinitionError(
                f"Task '{task}': return annotation {type_repr(ret)} is not supported; a tuple annotation means "
                "several outputs (tuple[int, str]); return a single value or list[T] instead"
            )
        return {output_name(i): a for i, a in enumerate(args)}, None
    return {output_name(0): ret}, None


class Param:
    """One input or output: its type and the plan that converts it."""

    __slots__ = ("default", "name", "omit_default", "plan", "python_type")

    def __init__(self, name: str, python_type: Any, plan: TypePlan, default: Any = EMPTY) -> None:
        self.name = name
        self.python_type = python_type
        self.plan = plan
        self.default = default
        # a `x: int = None` default the type cannot carry: leave x out, the function's default applies
        self.omit_default = False

    @property
    def literal_type(self) -> LiteralType:
        return self.plan.literal_type

    def __repr__(self) -> str:
        d = "" if self.default is EMPTY else f" = {value_repr(self.default)}"
        return f"{self.name}: {type_repr(self.python_type)}{d}"


def _plan_or_fail(task: str, what: str, name: str, t: Any, top: bool = True) -> TypePlan:
    """The plan for a parameter or output; ``top``: ``t`` is at the top level of the signature,
    where ``typing.Literal`` travels as the official interface declares it (see ``_literal``)."""
    try:
        return TypeEngine.plan(signature_type(t) if top else t)
    except TypeTransformerError as e:
        raise TaskDefinitionError(
            f"Task '{task}': {what} '{name}' has type {type_repr(t)}, which flyte cannot carry. {e}"
        ) from None


class _LiteralDefault:
    """A default known only as a literal (a task defined elsewhere)."""

    __slots__ = ("literal",)

    def __init__(self, literal: Literal) -> None:
        self.literal = literal

    def __repr__(self) -> str:
        return "<default>"


def _with_type(plan: TypePlan, lt: LiteralType) -> TypePlan:
    """The same converters, declaring the exact LiteralType another SDK wrote."""
    return TypePlan(plan.python_type, plan.transformer, lt, plan.encode, plan.decode, plan.owner)


class NativeInterface:
    """Inputs and outputs of a task with their types, literal types and converters.

    Build it with :meth:`from_function` (or :meth:`from_types`), once per task.
    """

    def __init__(
        self,
        task_name: str,
        inputs: Mapping[str, Param],
        outputs: Mapping[str, Param],
        named_tuple: type | None = None,
    ) -> None:
        self.task_name = task_name
        self.inputs: dict[str, Param] = dict(inputs)
        self.outputs: dict[str, Param] = dict(outputs)
        self.named_tuple = named_tuple
        ins = list(self.inputs.values())
        outs = list(self.outputs.values())
        self._in_names = tuple(p.name for p in ins)
        self._in_params = tuple(ins)
        self._in_enc = tuple(p.plan.encode for p in ins)
        self._in_dec = tuple(p.plan.decode for p in ins)
        self._in_sync = all(e is not None for e in self._in_enc)
        self._out_names = tuple(p.name for p in outs)
        self._out_params = tuple(outs)

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_function(cls, func: Callable[..., Any], task_name: str | None = None) -> NativeInterface:
        """Read ``func``'s signature and annotations; raise TaskDefinitionError for what cannot be carried."""
        task = task_name or getattr(func, "__qualname__", None) or repr(func)
        sig = inspect.signature(func)
        try:
            hints = typing.get_type_hints(func, include_extras=True)
        except Exception as e:
            raise TaskDefinitionError(f"Task '{task}': cannot resolve its type annotations: {e}") from e
        inputs: dict[str, Param] = {}
        for name, p in sig.parameters.items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TaskDefinitionError(
                    f"Task '{task}': parameter '{name}' is *{'' if p.kind is p.VAR_POSITIONAL else '*'}{name}; "
                    "tasks need named, typed parameters"
                )
            if p.kind is p.POSITIONAL_ONLY:
                raise TaskDefinitionError(f"Task '{task}': parameter '{name}' is positional-only; drop the '/'")
            if name not in hints:
                raise TaskDefinitionError(
                    f"Task '{task}': parameter '{name}' has no type annotation; annotate it (e.g. '{name}: int')"
                )
            inputs[name] = cls._input(task, name, hints[name], p.default)
        outputs_t, nt = split_return(task, hints.get("return", sig.return_annotation))
        # NamedTuple fields are not top-level for the official SDK: a Literal field stays a pickled Literal
        top = nt is None
        outputs = {k: Param(k, t, _plan_or_fail(task, "output", k, t, top)) for k, t in outputs_t.items()}
        return cls(task, inputs, outputs, nt)

    @classmethod
    def from_types(
        cls,
        task_name: str,
        inputs: Mapping[str, Any],
        outputs: Mapping[str, Any] | None = None,
    ) -> NativeInterface:
        """Build from ``{name: type}`` or ``{name: (type, default)}`` and ``{output name: type}``."""
        ins: dict[str, Param] = {}
        for name, spec in inputs.items():
            t, default = spec if isinstance(spec, tuple) else (spec, EMPTY)
            ins[name] = cls._input(task_name, name, t, default)
        outs = {k: Param(k, t, _plan_or_fail(task_name, "output", k, t)) for k, t in (outputs or {}).items()}
        return cls(task_name, ins, outs)

    @classmethod
    def from_typed_interface(cls, task_name: str, typed: TypedInterface, defaults: Any = ()) -> NativeInterface:
        """An interface for a task known only by its flyteidl2 ``TypedInterface``.

        Python types are guessed from the literal types (structs become plain dicts). Inputs
        named in ``defaults`` (``NamedParameter`` s of the TaskSpec) are optional; their
        literals are sent when the caller leaves them out.
        """
        has_default = {p.name: p.parameter.default for p in defaults if p.parameter.HasField("default")}
        ins: dict[str, Param] = {}
        for entry in typed.inputs.variables:
            t = TypeEngine.guess_python_type(entry.value.type)
            param = Param(entry.key, t, _plan_or_fail(task_name, "parameter", entry.key, t))
            param.plan = _with_type(param.plan, entry.value.type)
            if entry.key in has_default:
                param.default = _LiteralDefault(has_default[entry.key])
            ins[entry.key] = param
        outs: dict[str, Param] = {}
        for entry in typed.outputs.variables:
            t = TypeEngine.guess_python_type(entry.value.type)
            plan = _with_type(_plan_or_fail(task_name, "output", entry.key, t), entry.value.type)
            outs[entry.key] = Param(entry.key, t, plan)
        return cls(task_name, ins, outs)

    @staticmethod
    def _input(task: str, name: str, t: Any, default: Any) -> Param:
        param = Param(name, t, _plan_or_fail(task, "parameter", name, t), default)
        enc = param.plan.encode
        if default is not EMPTY and enc is not None:
            try:
                enc(default)
            except Exception as e:
                if default is not None:
                    raise TaskDefinitionError(
                        f"Task '{task}': the default of parameter '{name}' ({value_repr(default)}) "
                        f"does not fit its type {type_repr(t)}: {e}"
                    ) from None
                param.omit_default = True
        return param

    # -- introspection --------------------------------------------------------------------

    @property
    def input_types(self) -> dict[str, Any]:
        return {k: p.python_type for k, p in self.inputs.items()}

    @property
    def output_types(self) -> dict[str, Any]:
        return {k: p.python_type for k, p in self.outputs.items()}

    @property
    def required_inputs(self) -> list[str]:
        return [k for k, p in self.inputs.items() if p.default is EMPTY]

    def to_typed_interface(self) -> TypedInterface:
        """The flyteidl2 ``TypedInterface``; variables sorted by name, as the official SDK does."""

        def vm(params: Mapping[str, Param]) -> VariableMap:
            return VariableMap(
                variables=[VariableEntry(key=k, value=Variable(type=params[k].literal_type)) for k in sorted(params)]
            )

        return TypedInterface(inputs=vm(self.inputs), outputs=vm(self.outputs))

    def __repr__(self) -> str:
        ins = ", ".join(repr(p) for p in self.inputs.values())
        outs = ", ".join(f"{k}: {type_repr(p.python_type)}" for k, p in self.outputs.items())
        return f"<NativeInterface {self.task_name}({ins}) -> ({outs})>"

    # -- errors ---------------------------------------------------------------------------

    def _bad_input(self, p: Param, v: Any, e: Exception) -> InvalidInputError:
        expected = type_repr(p.python_type)
        msg = f"Task '{self.task_name}': argument '{p.name}' expects {expected}, got {type(v).__name__} {value_repr(v)}"
        detail = str(e)
        # Only add the converter's own words when they say more than the line above (a nested field, a range).
        if detail and not detail.lower().startswith(f"expected {expected}".lower()):
            msg += f": {detail}"
        return InvalidInputError(msg)

    def _bind_error(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> InvalidInputError:
        names = self._in_names
        sig = ", ".join(repr(p) for p in self._in_params)
        if len(args) > len(names):
            return InvalidInputError(
                f"Task '{self.task_name}' takes {len(names)} argument(s) ({sig}) but {len(args)} were given"
            )
        unknown = [k for k in kwargs if k not in self.inputs]
        if unknown:
            return InvalidInputError(
                f"Task '{self.task_name}' has no argument {', '.join(repr(k) for k in unknown)}; it takes ({sig})"
            )
        dup = [k for k in names[: len(args)] if k in kwargs]
        if dup:
            return InvalidInputError(f"Task '{self.task_name}': argument '{dup[0]}' given both by position and name")
        missing = [
            p for i, p in enumerate(self._in_params) if i >= len(args) and p.name not in kwargs and p.default is EMPTY
        ]
        return InvalidInputError(
            f"Task '{self.task_name}' is missing "
            + ", ".join(f"argument '{p.name}' ({type_repr(p.python_type)})" for p in missing)
        )


# -- per-call conversions -------------------------------------------------------------------


def _bind(iface: NativeInterface, args: Sequence[Any], kwargs: Mapping[str, Any]) -> list[tuple[int, Any]]:
    """(parameter index, value) for every input that gets a literal, defaults applied."""
    nargs = len(args)
    params = iface._in_params
    if nargs > len(params):
        raise iface._bind_error(args, kwargs)
    used = 0
    out: list[tuple[int, Any]] = []
    for i, p in enumerate(params):
        if i < nargs:
            if kwargs and p.name in kwargs:
                raise iface._bind_error(args, kwargs)
            out.append((i, args[i]))
        elif kwargs and p.name in kwargs:
            used += 1
            out.append((i, kwargs[p.name]))
        elif p.default is not EMPTY:
            if not p.omit_default:
                out.append((i, p.default))
        else:
            raise iface._bind_error(args, kwargs)
    if kwargs and used != len(kwargs):
        raise iface._bind_error(args, kwargs)
    return out


async def inputs_to_literals(
    iface: NativeInterface, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
) -> dict[str, Literal]:
    """Bind a call's arguments (defaults applied) and convert each to a ``Literal``.

    Raises :class:`flyte.errors.InvalidInputError` naming the task and the argument when one
    is missing, unknown or of the wrong type.
    """
    kw = kwargs or {}
    if iface._in_sync:
        return _encode_sync(iface, args, kw)
    out: dict[str, Literal] = {}
    names = iface._in_names
    for i, v in _bind(iface, args, kw):
        p = iface._in_params[i]
        if type(v) is _LiteralDefault:
            out[names[i]] = v.literal
            continue
        try:
            out[names[i]] = await p.plan.to_literal(v)
        except Exception as e:
            raise iface._bad_input(p, v, e) from e
    return out


def _encode_sync(iface: NativeInterface, args: Sequence[Any], kw: Mapping[str, Any]) -> dict[str, Literal]:
    """Bind and encode in one pass (every parameter has a synchronous encoder)."""
    nargs = len(args)
    if nargs > len(iface._in_params):
        raise iface._bind_error(args, kw)
    out: dict[str, Literal] = {}
    used = 0
    for i, (p, enc) in enumerate(zip(iface._in_params, iface._in_enc, strict=True)):
        name = p.name
        if i < nargs:
            if kw and name in kw:
                raise iface._bind_error(args, kw)
            v = args[i]
        elif kw and name in kw:
            used += 1
            v = kw[name]
        elif p.default is not EMPTY:
            if p.omit_default:
                continue
            v = p.default
            if type(v) is _LiteralDefault:
                out[name] = v.literal
                continue
        else:
            raise iface._bind_error(args, kw)
        try:
            out[name] = enc(v)  # type: ignore[misc]
        except Exception as e:
            raise iface._bad_input(p, v, e) from None
    if kw and used != len(kw):
        raise iface._bind_error(args, kw)
    return out


async def literals_to_inputs(iface: NativeInterface, lits: Mapping[str, Literal]) -> dict[str, Any]:
    """Convert input literals to the keyword arguments of the task function."""
    out: dict[str, Any] = {}
    decs = iface._in_dec
    found = 0
    for i, p in enumerate(iface._in_params):
        lit = lits.get(p.name)
        if lit is None:
            if p.default is EMPTY:
                raise InvalidInputError(
                    f"Task '{iface.task_name}': no value for argument '{p.name}' ({type_repr(p.python_type)})"
                )
            if type(p.default) is not _LiteralDefault:
                if not p.omit_default:
                    out[p.name] = p.default
                continue
            lit = p.default.literal
        else:
            found += 1
        dec = decs[i]
        try:
            out[p.name] = dec(lit) if dec is not None else await p.plan.to_python(lit)
        except Exception as e:
            try:
                out[p.name] = await decode_other_forms(p.plan, lit, e)
            except Exception as e2:
                raise InvalidInputError(
                    f"Task '{iface.task_name}': cannot read argument '{p.name}' as {type_repr(p.python_type)}: {e2}"
                ) from e2
    if found != len(lits):
        unknown = sorted(k for k in lits if k not in iface.inputs)
        raise InvalidInputError(f"Task '{iface.task_name}' has no argument(s) {unknown}; it takes {list(iface.inputs)}")
    return out


def _bad_output(iface: NativeInterface, msg: str) -> TypeTransformerError:
    return TypeTransformerError(f"Task '{iface.task_name}': {msg}")


async def outputs_to_literals(iface: NativeInterface, value: Any) -> dict[str, Literal]:
    """Convert a task's return value to output literals (``o0``... or NamedTuple field names)."""
    params = iface._out_params
    n = len(params)
    if n == 0:
        if value is not None:
            raise _bad_output(iface, f"declares no outputs but returned {type(value).__name__} {value_repr(value)}")
        return {}
    if n == 1 and iface.named_tuple is None:
        values: Sequence[Any] = (value,)
    else:
        if not isinstance(value, tuple) or len(value) != n:
            raise _bad_output(
                iface, f"declares {n} outputs ({', '.join(iface._out_names)}) but returned {value_repr(value)}"
            )
        values = value
    out: dict[str, Literal] = {}
    for p, v in zip(params, values, strict=True):
        try:
            enc = p.plan.encode
            out[p.name] = enc(v) if enc is not None else await p.plan.to_literal(v)
        except Exception as e:
            raise _bad_output(
                iface,
                f"output '{p.name}' expects {type_repr(p.python_type)}, got {type(v).__name__} {value_repr(v)}: {e}",
            ) from e
    return out


async def literals_to_outputs(iface: NativeInterface, lits: Mapping[str, Literal]) -> Any:
    """Output literals back to the value the task returned: None, one value, or a tuple."""
    params = iface._out_params
    if not params:
        return None
    values = []
    for p in params:
        lit = lits.get(p.name)
        if lit is None:
            raise _bad_output(iface, f"output '{p.name}' is missing (got {sorted(lits)})")
        try:
            dec = p.plan.decode
            v = dec(lit) if dec is not None else await p.plan.to_python(lit)
        except Exception as e:
            try:
                v = await decode_other_forms(p.plan, lit, e)
            except Exception as e2:
                raise _bad_output(iface, f"cannot read output '{p.name}' as {type_repr(p.python_type)}: {e2}") from e2
        values.append(v)
    if len(values) == 1 and iface.named_tuple is None:
        return values[0]
    if iface.named_tuple is not None:
        return iface.named_tuple(*values)
    return tuple(values)


async def default_inputs(iface: NativeInterface) -> list[Any]:
    """The defaults of a task's inputs as flyteidl2 ``NamedParameter`` s, for a TaskSpec.

    Same shape as the official SDK uploads: ``Parameter(var=Variable(type=...), default=literal)``,
    in signature order. Raises TaskDefinitionError naming the task and input if a default
    cannot be converted.
    """
    from flyteidl2.core.interface_pb2 import Parameter
    from flyteidl2.task.common_pb2 import NamedParameter

    out = []
    for p in iface._in_params:
        if p.default is EMPTY or p.omit_default:
            continue
        try:
            d = p.default
            lit = d.literal if type(d) is _LiteralDefault else await p.plan.to_literal(d)
        except Exception as e:
            raise TaskDefinitionError(
                f"Task '{iface.task_name}': cannot convert the default of input '{p.name}': {e}"
            ) from e
        param = Parameter(var=Variable(type=p.literal_type), default=lit)
        out.append(NamedParameter(name=p.name, parameter=param))
    return out


def literals_hash(lits: Mapping[str, Literal]) -> str:
    """A deterministic hex digest of named literals (sorted names, deterministic protobuf bytes)."""
    parts: list[bytes] = []
    for k in sorted(lits):
        data = lits[k].SerializeToString(deterministic=True)
        parts.append(b"%s\0%d\0" % (k.encode(), len(data)))
        parts.append(data)
    return hashlib.sha256(b"".join(parts)).hexdigest()


__all__ = [
    "NativeInterface",
    "Param",
    "default_inputs",
    "inputs_to_literals",
    "literals_hash",
    "literals_to_inputs",
    "literals_to_outputs",
    "output_name",
    "outputs_to_literals",
]
