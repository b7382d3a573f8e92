"""Turn a task's Python function into a sandbox program, once per task.

The source is read with ``inspect``, dedented and stripped of its decorators; the
function is renamed so a call to the task's own name inside the body still goes
to the task (through the host). Every name the body reads from its module is
resolved here: other tasks and ``flyte.map`` become host calls, allowed stdlib
modules become imports, plain helper functions are copied in, records become
host classes, constants become inputs. Anything else is a :class:`SandboxError`
naming the task and the line, raised before anything runs. The body itself is
checked and rewritten by :class:`flyte_sandbox.body_check.BodyCheck`.

Rewrites keep every line where it was, so tracebacks map back to the file.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses as _dataclasses
import inspect
import io as _io
import symtable
import textwrap
import types
from dataclasses import dataclass, field
from typing import Any

import flyte
from flyte.errors import SandboxError

from flyte_sandbox.body_check import MUTATORS, BodyCheck, annotation_nodes
from flyte_sandbox.rewrite import rename_def
from flyte_sandbox.rules import (
    ALLOWED_MODULES,
    ALLOWED_OS_ATTRS,
    AVAILABLE,
    BATCH,
    BODY,
    DATACLASS_FUNCTIONS,
    ENVIRON_ITEM,
    GROUP_HOST,
    IMPURE_MODULES,
    KWARGS,
    MAP_AIO_HOST,
    MAP_HOST,
    MISSING_BUILTINS,
    from_flyte,
    is_flyte_map,
    is_flyte_module,
)
from flyte_sandbox.shims import DATACLASS_SHIM, IO_MODULE, IO_SHIM, ROUND_SHIM
from flyte_sandbox.typecheck import check_types, is_record_class

_CONSTANT_TYPES = (int, float, str, bool, bytes, type(None))
_MISSING = object()


class TaskRef:
    """What a task name is inside the sandbox: call it, ``.aio(...)`` it, ``.override(...)`` it."""

    __slots__ = ("name", "task")

    def __init__(self, task: Any) -> None:
        self.task = task
        self.name = task.name  # readable in the body: `t.name`

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # routed by the executor, never called directly
        raise NotImplementedError

    def aio(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def override(self, **kwargs: Any) -> Any:
        raise NotImplementedError


# ``flyte`` / ``flyte.map`` inside the sandbox. Defined in the sandbox so the iterables are turned into
# lists there (a range or generator does not cross the boundary as itself); the calls leave the sandbox.
_GATHER_ARGS = "def __flyte_args__(*args, **kwargs):\n    return (args, kwargs)\n"
_ENVIRON_ITEM = (f"def {ENVIRON_ITEM}(key):\n"
                 "    import os as __flyte_os__\n"
                 "    value = __flyte_os__.getenv(key)\n"
                 "    if value is None:\n"
                 "        raise KeyError(key)\n"
                 "    return value\n")
_FLYTE_FACADE = f"""class __FlyteMap__:
    def __call__(self, func, *iterables, **kwargs):
        return {MAP_HOST}(func, *[list(i) for i in iterables], **kwargs)
    def aio(self, func, *iterables, **kwargs):
        return {MAP_AIO_HOST}(func, *[list(i) for i in iterables], **kwargs)
class __FlyteGroup__:
    def __init__(self, name):
        self.name = name
    def __enter__(self):
        {GROUP_HOST}(self.name, True)
    def __exit__(self, exc_type, exc, tb):
        {GROUP_HOST}(self.name, False)
        return False
class __FlyteModule__:
    def __init__(self):
        self.map = __FlyteMap__()
    def group(self, name):
        return __FlyteGroup__(name)
"""


@dataclass
class Segment:
    """Where a function's text sits in the program and in its file (for tracebacks)."""

    name: str          # the function's name in the program
    start: int         # first line in the program (1-based)
    length: int
    filename: str
    first_line: int    # line of the ``def`` in the file

    def original(self, line: int) -> int | None:
        if self.start <= line < self.start + self.length:
            return self.first_line + (line - self.start)
        return None


@dataclass
class Program:
    """A task body ready to feed to a Monty worker."""

    task_name: str
    is_async: bool
    definitions: str                  # imports, helpers and the renamed body function
    call_code: str                    # definitions + the call
    segments: list[Segment]
    host_values: dict[str, Any]       # name -> value bound as a global each feed (wrapped by the executor)
    tasks: dict[str, Any]             # name -> TaskTemplate the body calls
    classes: dict[str, type]          # name -> record class the body may construct
    flyte_names: dict[str, str]       # name -> "module" (the flyte module), "map" (flyte.map) or "group"
    sleeps: bool                      # the body may sleep: its session cannot be reused (sleep budget is per session)
    pure: bool                        # no host calls, no output, no sleeping: calls may share one feed
    param_names: tuple[str, ...]
    lookups: list[tuple[dict[str, Any], str, Any]] = field(default_factory=list, repr=False)
    cacheable: bool = True
    probes: list[tuple[str, str | None, str]] = field(default_factory=list, repr=False)  # see probe_code
    checked: bool = False             # Monty has parsed it once (see SandboxExecutor.check)
    _batch_code: str | None = field(default=None, repr=False)

    @property
    def batch_code(self) -> str:
        """Definitions + a call of the body for each kwargs dict in ``__flyte_batch__``; failures come back False."""
        if self._batch_code is None:
            if self.is_async:
                tail = (
                    "import asyncio as __flyte_asyncio__\n"
                    "async def __flyte_one__(kw):\n"
                    "    try:\n"
                    f"        return (True, await {BODY}(**kw))\n"
                    "    except Exception:\n"
                    "        return (False, None)\n"
                    f"await __flyte_asyncio__.gather(*(__flyte_one__(kw) for kw in {BATCH}))\n"
                )
            else:
                tail = (
                    "def __flyte_one__(kw):\n"
                    "    try:\n"
                    f"        return (True, {BODY}(**kw))\n"
                    "    except Exception:\n"
                    "        return (False, None)\n"
                    f"[__flyte_one__(kw) for kw in {BATCH}]\n"
                )
            self._batch_code = self.definitions + tail
        return self._batch_code

    @property
    def probe_code(self) -> str:
        """A feed whose value says, for each stdlib module (and attribute of one) the program uses, whether
        pydantic-monty has it: the sandbox's stdlib is partial (no ``dataclasses.replace``, no
        ``collections.abc``), and a missing one is refused before the run, naming the line that uses it."""
        lines = ["__flyte_probe__ = []\n"]
        for module, attr, _ in self.probes:
            found = "True" if attr is None else f"hasattr(__flyte_m__, {attr!r})"
            lines.append(f"try:\n    import {module} as __flyte_m__\n    __flyte_probe__.append({found})\n"
                         "except Exception:\n    __flyte_probe__.append(False)\n")
        return "".join(lines) + "__flyte_probe__\n"

    def still_current(self) -> bool:
        """Whether every module-level name the program was built from still means the same object."""
        return self.cacheable and all(g.get(name, _MISSING) is value for g, name, value in self.lookups)

    def where(self, line: int) -> str | None:
        """``file.py:LINE`` for a program line, if it belongs to the task or one of its helpers."""
        for seg in self.segments:
            orig = seg.original(line)
            if orig is not None:
                return f"{seg.filename}:{orig}"
        return None


# -- building -------------------------------------------------------------------------------


class _Builder:
    def __init__(self, task: Any) -> None:
        self.task = task
        self.task_name: str = task.name
        self.prelude: list[str] = []
        self.helpers: list[tuple[str, str, str, int]] = []  # (program name, source, filename, first line)
        self.seen_helpers: set[int] = set()
        self.host_values: dict[str, Any] = {}
        self.tasks: dict[str, Any] = {}
        self.classes: dict[str, type] = {}
        self.gathers = False  # the body fans out with asyncio.gather(*(task(...) for ...))
        self.environ_item = False  # the body reads os.environ[k]
        self.flyte_names: dict[str, str] = {}  # name -> "module" (flyte), "map" (flyte.map) or "group"
        self.uses_io = False  # the body uses io.StringIO / io.BytesIO (see shims.py)
        self.dataclass_functions = False  # ... dataclasses.replace / asdict / astuple (answered by the host)
        self.sleeps = False
        self.rounds = False  # the body calls round(x, n) (see shims.py)
        self.probes: dict[tuple[str, str | None], str] = {}  # (module, attribute or None) -> first "file:line"
        self.impure = False
        self.bound: dict[str, str] = {}  # global name -> what it was bound to (to catch clashes between helpers)
        self.lookups: list[tuple[dict[str, Any], str, Any]] = []  # (module globals, name, value found)
        self.cacheable = True

    def fail(self, line: int | None, filename: str, message: str) -> SandboxError:
        where = f" ({filename}:{line})" if line else f" ({filename})"
        return SandboxError(f"Task '{self.task_name}' cannot run in the sandbox{where}: {message}")

    # -- one function ------------------------------------------------------------------------

    def function(self, func: types.FunctionType, program_name: str, is_task: bool) -> tuple[str, str, int]:
        """Validated, renamed source of ``func``; resolves its globals (recursively for helpers)."""
        filename = inspect.getsourcefile(func) or func.__code__.co_filename
        short = filename.rsplit("/", 1)[-1]
        try:
            lines, lnum = inspect.getsourcelines(func)
        except (OSError, TypeError) as e:
            raise self.fail(None, short, f"its source code is not available ({e}); define it in a .py file") from None
        src = textwrap.dedent("".join(lines))
        try:
            mod = ast.parse(src)
        except SyntaxError as e:
            raise self.fail(None, short, f"its source could not be parsed: {e}") from None
        node = mod.body[0] if mod.body else None
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            raise self.fail(lnum, short, "it is not a plain function definition")
        # Drop decorators: keep from the `def` line on (lnum counts from the first decorator).
        src_lines = src.splitlines(keepends=True)
        def_idx = node.lineno - 1
        body_src = "".join(src_lines[def_idx:])
        first_line = lnum + def_idx
        body_src = rename_def(body_src, func.__name__, program_name)
        try:
            fn_node = ast.parse(body_src).body[0]
        except SyntaxError as e:
            raise self.fail(first_line, short, f"its source could not be parsed without decorators: {e}") from None
        assert isinstance(fn_node, ast.FunctionDef | ast.AsyncFunctionDef)
        body_src = self.check_and_rewrite(body_src, fn_node, func, short, first_line, is_task)
        self.resolve_globals(body_src, func, short, first_line, fn_node)
        return body_src, short, first_line

    def check_and_rewrite(self, src: str, fn: ast.FunctionDef | ast.AsyncFunctionDef, func: types.FunctionType,
                          filename: str, first: int, is_task: bool = False) -> str:
        """``src`` with the sandbox's rewrites applied; raises SandboxError at the first construct it cannot run."""
        return BodyCheck(self, src, fn, func, filename, first).run(is_task)

    def resolve_globals(self, src: str, func: types.FunctionType, filename: str, first: int, fn: ast.AST) -> None:
        table = symtable.symtable(src, filename, "exec")
        scoped: set[str] = set()

        def collect(t: symtable.SymbolTable) -> None:
            for s in t.get_symbols():
                if (s.is_global() or s.is_free()) and s.is_referenced():
                    scoped.add(s.get_name())
            for child in t.get_children():
                collect(child)

        collect(table)
        used = _used_names(fn)  # annotations are not evaluated by the sandbox: names only they use are skipped
        closure = inspect.getclosurevars(func).nonlocals if func.__closure__ else {}
        g = func.__globals__
        for name, rel_line in used.items():
            if name not in scoped or name in (BODY, KWARGS):
                continue
            if name in closure:
                value = closure[name]
            elif name in g:
                value = g[name]
            else:
                if name in MISSING_BUILTINS and hasattr(builtins, name):
                    line = first + rel_line - 1
                    if isinstance(getattr(builtins, name), type) and issubclass(getattr(builtins, name), BaseException):
                        base = next(c.__name__ for c in getattr(builtins, name).__mro__[1:]
                                    if c.__name__ not in MISSING_BUILTINS)
                        raise self.fail(line, filename, f"uses the exception class '{name}', which the sandbox does "
                                        f"not provide; raise or catch '{base}' (or another built-in exception the "
                                        "sandbox has) instead")
                    raise self.fail(line, filename, f"uses the built-in '{name}', which the sandbox does not provide")
                continue  # a builtin, or a NameError at run time as in Python
            if name in closure:
                self.cacheable = False
            else:
                self.lookups.append((g, name, value))
            if isinstance(value, list | dict | set) and _is_constant(value):
                changed = _mutation_line(fn, name)
                if changed is not None:
                    raise self.fail(first + changed - 1, filename, f"changes the module-level '{name}', which the "
                                    "sandbox gives each call as a copy: the change would be lost when the call ends "
                                    "(module state is not shared with the host or between calls); pass state in and "
                                    "out as task inputs and outputs instead")
            self.bind(name, value, filename, first + rel_line - 1)

    def probe(self, module: str, attr: str | None, filename: str, line: int) -> None:
        """The program uses ``module`` (``module.attr``): checked against pydantic-monty before the run."""
        root = module.split(".")[0]
        # os: its names are checked against ALLOWED_OS_ATTRS (and os.environ is a host call, not an attribute)
        if root in ALLOWED_MODULES and module != "__future__" and not (root == "os" and attr is not None):
            self.probes.setdefault((module, attr), f"{filename}:{line}")

    def bind(self, name: str, value: Any, filename: str, line: int) -> None:
        prev = self.bound.get(name)
        ident = f"{type(value).__qualname__}:{id(value)}"
        if prev is not None:
            if prev != ident:
                raise self.fail(line, filename, f"the name '{name}' means different things in the task and its "
                                "helpers; rename one of them")
            return
        self.bound[name] = ident
        if getattr(value, "__module__", None) in ("posix", "nt") and callable(value) \
                and getattr(value, "__name__", "") not in ALLOWED_OS_ATTRS:
            raise self.fail(line, filename, f"uses '{name}', which is os.{getattr(value, '__name__', name)}: not "
                            "available in the sandbox (no processes, no file system changes)")
        std = _std_origin(value)
        if isinstance(value, flyte.TaskTemplate):
            self.tasks[name] = value
            self.impure = True
        elif is_flyte_module(value) or is_flyte_map(value) or value is flyte.group:
            self.flyte_names[name] = ("module" if is_flyte_module(value) else
                                      "map" if is_flyte_map(value) else "group")
            self.impure = True
        elif any(value is getattr(_dataclasses, f) for f in DATACLASS_FUNCTIONS):
            self.dataclass_functions = True
            self.impure = True
            self.prelude.append(f"{name} = {DATACLASS_FUNCTIONS[value.__name__]}")
        elif value is _io or value is _io.StringIO or value is _io.BytesIO:
            self.uses_io = True
            self.prelude.append(f"{name} = {IO_MODULE}" if value is _io else f"{name} = {IO_MODULE}.{value.__name__}")
        elif isinstance(value, types.ModuleType):
            root = value.__name__.split(".")[0]
            if root not in ALLOWED_MODULES:
                raise self.fail(line, filename, f"uses module '{value.__name__}', which the sandbox does not provide "
                                f"(available: {AVAILABLE})")
            if root in IMPURE_MODULES:
                self.impure = True
            self.probe(value.__name__, None, filename, line)
            self.prelude.append(f"import {value.__name__}" if value.__name__ == name
                                else f"import {value.__name__} as {name}")
        elif isinstance(value, type) and is_record_class(value):
            self.classes[name] = value
            self.impure = True
        elif std is not None:
            if std.split(".")[0] in IMPURE_MODULES:
                self.impure = True
            if getattr(value, "__name__", "") == "sleep":
                self.sleeps = True
            real = getattr(value, "__name__", name)
            self.probe(std, real, filename, line)
            self.prelude.append(f"from {std} import {real}" + ("" if real == name else f" as {name}"))
        elif from_flyte(value):
            raise self.fail(line, filename, f"uses '{name}' ({_describe(value)}), which is not available inside a "
                            "sandboxed body (of flyte, only flyte.map and flyte.group are); pass what the body "
                            "needs as task inputs")
        elif isinstance(value, types.FunctionType):
            if id(value) in self.seen_helpers:
                return
            self.seen_helpers.add(id(value))
            if inspect.iscoroutinefunction(value) or inspect.isgeneratorfunction(value):
                kind = "an async" if inspect.iscoroutinefunction(value) else "a generator"
                raise self.fail(line, filename, f"calls {kind} helper '{name}'; make it a task or a plain function")
            src, fname, first = self.function(value, name, is_task=False)
            self.helpers.append((name, src, fname, first))
        elif _is_constant(value):
            self.host_values[name] = value
        else:
            raise self.fail(line, filename, f"uses '{name}' ({_describe(value)}), which cannot be passed into the "
                            "sandbox; only tasks, flyte.map, allowed stdlib modules, plain functions, dataclasses "
                            "and constants can")


def build_program(task: Any) -> Program:
    """Read, validate and prepare ``task``'s body; raises SandboxError naming the task and the line."""
    func = task.func
    b = _Builder(task)
    body, filename, first = b.function(func, BODY, is_task=True)
    parts: list[str] = []
    segments: list[Segment] = []
    line = 1
    if b.uses_io:
        parts.append(IO_SHIM)
        line += IO_SHIM.count("\n")
    if b.rounds:
        parts.append(ROUND_SHIM)
        line += ROUND_SHIM.count("\n")
    if b.dataclass_functions:
        parts.append(DATACLASS_SHIM)
        line += DATACLASS_SHIM.count("\n")
    for stmt in dict.fromkeys(b.prelude):
        parts.append(stmt + "\n")
        line += 1
    if b.gathers:
        parts.append(_GATHER_ARGS)
        line += _GATHER_ARGS.count("\n")
    if b.environ_item:
        parts.append(_ENVIRON_ITEM)
        line += _ENVIRON_ITEM.count("\n")
    if b.flyte_names:
        facade = _FLYTE_FACADE + "".join(
            f"{name} = __FlyteModule__()\n" if kind == "module" else
            f"{name} = __FlyteMap__()\n" if kind == "map" else f"{name} = __FlyteModule__().group\n"
            for name, kind in b.flyte_names.items()
        )
        parts.append(facade)
        line += facade.count("\n")
    for name, src, fname, f_first in [*b.helpers, (BODY, body, filename, first)]:
        if not src.endswith("\n"):
            src += "\n"
        n = src.count("\n")
        segments.append(Segment(name, line, n, fname, f_first))
        parts.append(src)
        line += n
    definitions = "".join(parts)
    call = f"await {BODY}(**{KWARGS})\n" if task.is_async else f"{BODY}(**{KWARGS})\n"
    check_types(task, f"{filename}:{first}")
    return Program(
        task_name=task.name,
        is_async=task.is_async,
        definitions=definitions,
        call_code=definitions + call,
        segments=segments,
        host_values=b.host_values,
        tasks=b.tasks,
        classes=b.classes,
        flyte_names=b.flyte_names,
        sleeps=b.sleeps,
        pure=not b.impure and not b.sleeps,
        param_names=tuple(task.interface.inputs),
        lookups=b.lookups,
        cacheable=b.cacheable,
        probes=[(module, attr, where) for (module, attr), where in b.probes.items()],
    )


# -- helpers --------------------------------------------------------------------------------

def _mutation_line(fn: ast.AST, name: str) -> int | None:
    """First line (relative to the function) where ``name[...] = ...``, ``del name[...]``, ``name.x = ...`` or
    ``name.append(...)``-like mutation happens."""
    lines: list[int] = []
    for n in ast.walk(fn):
        stored = isinstance(n, ast.Subscript | ast.Attribute) and isinstance(n.ctx, ast.Store | ast.Del) \
            and isinstance(n.value, ast.Name) and n.value.id == name
        called = isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in MUTATORS \
            and isinstance(n.func.value, ast.Name) and n.func.value.id == name
        if (stored or called) and isinstance(n, ast.expr):
            lines.append(n.lineno)
    return min(lines) if lines else None


def _used_names(fn: ast.AST) -> dict[str, int]:
    """Names the function reads, with the first line each is used on (annotations left out)."""
    skip = annotation_nodes(fn)
    out: dict[str, int] = {}
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and id(n) not in skip and (n.id not in out or n.lineno < out[n.id]):
            out[n.id] = n.lineno
    return out


def _std_origin(v: Any) -> str | None:
    """``math`` for ``math.sqrt``, ``datetime`` for ``datetime.date``: where to import it from in the sandbox."""
    if isinstance(v, types.ModuleType) or not (callable(v) or isinstance(v, type)):
        return None
    mod = getattr(v, "__module__", None)
    if not isinstance(mod, str):
        return None
    if mod == "posixpath":
        return "os.path"
    root = mod.split(".")[0]
    if root.startswith("_") and root[1:] in ALLOWED_MODULES:
        root = root[1:]
    if root not in ALLOWED_MODULES or root in ("__future__",):
        return None
    import sys

    top = sys.modules.get(root)
    if top is not None and getattr(top, getattr(v, "__name__", ""), None) is v:
        return root
    return mod if mod.split(".")[0] in ALLOWED_MODULES else root


def _is_constant(v: Any, depth: int = 0) -> bool:
    if depth > 20:
        return False
    if isinstance(v, _CONSTANT_TYPES):
        return True
    if isinstance(v, list | tuple | set | frozenset):
        return all(_is_constant(x, depth + 1) for x in v)
    if isinstance(v, dict):
        return all(_is_constant(k, depth + 1) and _is_constant(x, depth + 1) for k, x in v.items())
    return False


def _describe(v: Any) -> str:
    if isinstance(v, type):
        return f"class {v.__module__}.{v.__qualname__}"
    if callable(v):
        return f"{type(v).__name__} from {getattr(v, '__module__', '?')}"
    return f"a {type(v).__module__}.{type(v).__qualname__} value"
