"""Turn a task's Python function into a sandbox program, once per task.

The source is read with ``inspect``, dedented and stripped of its decorators; the
function is renamed so a call to the task's own name inside the body still goes
to the task (through the host). Every name the body reads from its module is
resolved here: other tasks and ``flyte.map`` become host calls, allowed stdlib
modules become imports, plain helper functions are copied in, records become
host classes, constants become inputs. Anything else is a :class:`SandboxError`
naming the task and the line, raised before anything runs.

Rewrites keep every line where it was, so tracebacks map back to the file.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import inspect
import io as _io
import symtable
import textwrap
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import flyte
from flyte.errors import SandboxError

from flyte_sandbox.rewrite import Edit, apply_edits, drop_async_keyword, rename_def, wrap_await
from flyte_sandbox.shims import IO_ATTRS, IO_MODULE, IO_SHIM
from flyte_sandbox.typecheck import check_types, is_record_class

# Modules the Monty interpreter provides (checked against pydantic-monty 1.4).
ALLOWED_MODULES = frozenset({
    "asyncio", "base64", "binascii", "bisect", "collections", "copy", "csv", "dataclasses", "datetime",
    "decimal", "functools", "hashlib", "itertools", "json", "math", "os", "pathlib", "random", "re", "sys",
    "time", "tomllib", "typing", "unicodedata", "__future__",
})
# Builtins CPython has and the Monty interpreter does not (pydantic-monty 1.4): a body using one is refused
# before running instead of failing with a NameError at run time.
MISSING_BUILTINS = frozenset({
    "BaseExceptionGroup", "BlockingIOError", "BrokenPipeError", "BufferError", "BytesWarning", "ChildProcessError",
    "ConnectionAbortedError", "ConnectionError", "ConnectionRefusedError", "ConnectionResetError",
    "DeprecationWarning", "EOFError", "EncodingWarning", "EnvironmentError", "ExceptionGroup", "FloatingPointError",
    "FutureWarning", "GeneratorExit", "IOError", "ImportWarning", "IndentationError", "InterruptedError",
    "PendingDeprecationWarning", "ProcessLookupError", "ReferenceError", "ResourceWarning", "RuntimeWarning",
    "StopAsyncIteration", "SyntaxWarning", "SystemError", "TabError", "UnicodeError", "UnicodeTranslateError",
    "UnicodeWarning", "UserWarning", "Warning", "aiter", "anext", "ascii", "breakpoint", "bytearray", "callable",
    "classmethod", "compile", "copyright", "credits", "delattr", "dir", "exit", "globals", "help", "input",
    "issubclass", "license", "memoryview", "quit", "staticmethod", "super", "vars",
})
# What of ``os`` a body may touch: environment (granted names only) and paths (granted mount only).
ALLOWED_OS_ATTRS = frozenset({"getenv", "environ", "path", "getcwd", "listdir", "sep", "linesep", "fspath", "stat"})
_AVAILABLE = ", ".join(sorted((ALLOWED_MODULES - {"__future__"}) | {"io"}))  # for messages; io: see shims.py
_IO_AVAILABLE = ("(of io, only io.StringIO and io.BytesIO are: in-memory files; read real files through "
                 "Sandbox(mount=...))")
_CONSTANT_TYPES = (int, float, str, bool, bytes, type(None))
_IMPURE_MODULES = frozenset({"os", "pathlib", "time", "asyncio"})  # file, env, clock or sleep: not batched
BODY = "__flyte_body__"
_MISSING = object()
KWARGS = "__flyte_kwargs__"
BATCH = "__flyte_batch__"


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
GATHER_HOST = "__flyte_gather__"
_GATHER_ARGS = "def __flyte_args__(*args, **kwargs):\n    return (args, kwargs)\n"
ENVIRON_ITEM = "__flyte_environ_item__"
_ENVIRON_ITEM = (f"def {ENVIRON_ITEM}(key):\n"
                 "    import os as __flyte_os__\n"
                 "    value = __flyte_os__.getenv(key)\n"
                 "    if value is None:\n"
                 "        raise KeyError(key)\n"
                 "    return value\n")
MAP_HOST = "__flyte_map__"
MAP_AIO_HOST = "__flyte_map_aio__"
GROUP_HOST = "__flyte_group__"  # (name, entering): the host enters or leaves flyte.group(name) for the body
FLYTE_ATTRS = frozenset({"map", "group"})  # what of `flyte` a body may use
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
        self.sleeps = False
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
        return _BodyCheck(self, src, fn, func, filename, first).run(is_task)

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
        elif _is_flyte_module(value) or _is_flyte_map(value) or value is flyte.group:
            self.flyte_names[name] = ("module" if _is_flyte_module(value) else
                                      "map" if _is_flyte_map(value) else "group")
            self.impure = True
        elif value is _io or value is _io.StringIO or value is _io.BytesIO:
            self.uses_io = True
            self.prelude.append(f"{name} = {IO_MODULE}" if value is _io else f"{name} = {IO_MODULE}.{value.__name__}")
        elif isinstance(value, types.ModuleType):
            root = value.__name__.split(".")[0]
            if root not in ALLOWED_MODULES:
                raise self.fail(line, filename, f"uses module '{value.__name__}', which the sandbox does not provide "
                                f"(available: {_AVAILABLE})")
            if root in _IMPURE_MODULES:
                self.impure = True
            self.probe(value.__name__, None, filename, line)
            self.prelude.append(f"import {value.__name__}" if value.__name__ == name
                                else f"import {value.__name__} as {name}")
        elif isinstance(value, type) and is_record_class(value):
            self.classes[name] = value
            self.impure = True
        elif std is not None:
            if std.split(".")[0] in _IMPURE_MODULES:
                self.impure = True
            if getattr(value, "__name__", "") == "sleep":
                self.sleeps = True
            real = getattr(value, "__name__", name)
            self.probe(std, real, filename, line)
            self.prelude.append(f"from {std} import {real}" + ("" if real == name else f" as {name}"))
        elif _from_flyte(value):
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


class _BodyCheck(ast.NodeVisitor):
    """Checks one function for what the sandbox cannot run and collects line-preserving rewrites.

    One ``visit_*`` method per construct. Nodes are visited in ``ast.walk`` order (breadth first) rather
    than recursively, so of several problems the one reported is the shallowest, wherever it is nested.
    """

    def __init__(self, builder: _Builder, src: str, fn: ast.FunctionDef | ast.AsyncFunctionDef,
                 func: types.FunctionType, filename: str, first: int) -> None:
        self.b = builder
        self.src = src
        self.fn = fn
        self.g = func.__globals__
        self.records = _record_params(func, fn)  # parameter -> record class it is annotated with
        self.filename = filename
        self.first = first  # file line of the function's first line
        self.edits: list[Edit] = []
        self.local_names = _local_names(fn)
        self.annotations = _annotation_nodes(fn)  # never evaluated in the sandbox: not checked
        self.local_modules = {  # `import os` inside the body
            (a.asname or a.name.split(".")[0]): (a.name if a.asname else a.name.split(".")[0])
            for n in ast.walk(fn) if isinstance(n, ast.Import) for a in n.names
        }

    def run(self, is_task: bool) -> str:
        if is_task:
            self.drop_defaults()
        for node in ast.walk(self.fn):
            self.visit(node)
        return apply_edits(self.src, self.edits) if self.edits else self.src

    def generic_visit(self, node: ast.AST) -> None:
        """Nothing to check; children are reached through ``ast.walk`` in :meth:`run`."""

    def drop_defaults(self) -> None:
        """The host decodes default values and passes every input in, so a task's defaults are never used inside
        the sandbox; they are dropped (a default such as `Config(...)` could not be evaluated there)."""
        a = self.fn.args
        for d in [*a.defaults, *(x for x in a.kw_defaults if x is not None)]:
            assert d.end_lineno is not None and d.end_col_offset is not None
            self.edits.append((d.lineno, d.col_offset, d.end_lineno, d.end_col_offset, "None"))

    # -- what names mean ------------------------------------------------------------------------

    def fail(self, node: ast.AST, message: str) -> SandboxError:
        return self.b.fail(self.first + getattr(node, "lineno", 1) - 1, self.filename, message)

    def record_of(self, expr: ast.expr) -> type | None:
        """The record class of ``p`` or ``p.field.field`` when ``p`` is a parameter annotated with a record."""
        if isinstance(expr, ast.Name):
            return self.records.get(expr.id)
        if isinstance(expr, ast.Attribute):
            outer = self.record_of(expr.value)
            if outer is not None:
                return _record_class(_record_fields(outer).get(expr.attr))
        return None

    def refuse_record_change(self, n: ast.AST, target: ast.Attribute) -> None:
        cls = self.record_of(target.value)
        name = cls.__name__ if cls is not None else "record"
        raise self.fail(n, f"changes {name}.{target.attr}: records the body receives, or builds from a module-level "
                        "class, are the host's and read-only in the sandbox, so the change would be lost; build a new "
                        f"one instead, e.g. {name}({target.attr}=..., ...)")

    def probe(self, n: ast.AST, module: str, attr: str | None) -> None:
        self.b.probe(module, attr, self.filename, self.first + getattr(n, "lineno", 1) - 1)

    def replace(self, n: ast.stmt, text: str) -> None:
        assert n.end_lineno is not None and n.end_col_offset is not None
        self.edits.append((n.lineno, n.col_offset, n.end_lineno, n.end_col_offset, text))

    def module_name(self, name: str) -> str | None:
        v = self.g.get(name)
        if isinstance(v, types.ModuleType):
            return v.__name__
        return self.local_modules.get(name)

    def is_os_environ(self, expr: ast.expr) -> bool:
        return isinstance(expr, ast.Attribute) and expr.attr == "environ" and isinstance(expr.value, ast.Name) \
            and self.module_name(expr.value.id) == "os"

    def is_map_aio(self, expr: ast.expr) -> bool:
        if not (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "aio"):
            return False
        target = expr.func.value
        if isinstance(target, ast.Attribute) and target.attr == "map" and isinstance(target.value, ast.Name):
            return _is_flyte_module(self.g.get(target.value.id))
        if isinstance(target, ast.Name):
            return _is_flyte_map(self.g.get(target.id))
        return False

    def task_call(self, call: ast.expr) -> ast.expr | None:
        """The callee expression of ``t(...)`` / ``t.aio(...)`` when ``t`` names a task, else None."""
        if not isinstance(call, ast.Call):
            return None
        f = call.func
        name = f if isinstance(f, ast.Name) else (
            f.value if isinstance(f, ast.Attribute) and f.attr == "aio" and isinstance(f.value, ast.Name) else None)
        if name is None or name.id in self.local_names:
            return None
        return f if isinstance(self.g.get(name.id), flyte.TaskTemplate) else None

    # -- calls ------------------------------------------------------------------------------------

    def visit_Call(self, n: ast.Call) -> None:
        self.gather_fan_out(n)
        self.getattr_on_os(n)
        self.environ_get(n)
        self.record_method(n)

    def record_method(self, n: ast.Call) -> None:
        """``p.norm()`` on a record that came in: its methods stay on the host (they are not sandboxed code)."""
        f = n.func
        if not isinstance(f, ast.Attribute):
            return
        cls = self.record_of(f.value)
        if cls is not None and f.attr not in _record_fields(cls):
            raise self.fail(n, f"calls {cls.__name__}.{f.attr}(): records ({cls.__name__} is one) cross into "
                            "the sandbox as data and their methods stay on the host; compute it in the body or in "
                            "a plain helper function that takes the record")
        if f.attr in _MUTATORS and isinstance(f.value, ast.Attribute) and self.record_of(f.value.value) is not None:
            self.refuse_record_change(n, f.value)

    def gather_fan_out(self, n: ast.Call) -> None:
        """`asyncio.gather(*(t(a) for x in xs))` -> `__flyte_gather__(t, [__flyte_args__(a) for x in xs])`:
        one host call for the whole fan-out instead of one per child."""
        if not (isinstance(n.func, ast.Attribute) and n.func.attr == "gather" and isinstance(n.func.value, ast.Name)
                and self.module_name(n.func.value.id) == "asyncio" and len(n.args) == 1
                and isinstance(n.args[0], ast.Starred) and isinstance(n.args[0].value, ast.GeneratorExp)
                and all(k.arg == "return_exceptions" for k in n.keywords)):
            return
        star = n.args[0]
        gen = star.value
        assert isinstance(gen, ast.GeneratorExp)
        callee = self.task_call(gen.elt)
        if callee is None or len(gen.generators) != 1 or gen.generators[0].is_async:
            return
        task_name = callee.id if isinstance(callee, ast.Name) else callee.value.id  # type: ignore[attr-defined]
        self.edits.append((n.lineno, n.col_offset, star.lineno, star.col_offset + 1, f"{GATHER_HOST}({task_name}, "))
        self.edits.append((gen.lineno, gen.col_offset, gen.lineno, gen.col_offset + 1, "["))
        assert gen.end_lineno is not None and gen.end_col_offset is not None
        self.edits.append((gen.end_lineno, gen.end_col_offset - 1, gen.end_lineno, gen.end_col_offset, "]"))
        assert callee.end_lineno is not None and callee.end_col_offset is not None
        self.edits.append((callee.lineno, callee.col_offset, callee.end_lineno, callee.end_col_offset,
                           "__flyte_args__"))
        self.b.gathers = True
        self.b.impure = True

    def getattr_on_os(self, n: ast.Call) -> None:
        """`getattr(os, "system")` is `os.system`; a computed name cannot be checked."""
        if not (isinstance(n.func, ast.Name) and n.func.id in ("getattr", "hasattr")
                and n.func.id not in self.local_names and n.args and isinstance(n.args[0], ast.Name)
                and self.module_name(n.args[0].id) == "os"):
            return
        attr_node = n.args[1] if len(n.args) > 1 else None
        if not (isinstance(attr_node, ast.Constant) and isinstance(attr_node.value, str)):
            raise self.fail(n, f"{n.func.id}(os, ...) with a computed name cannot be checked, so it is not "
                            "available in the sandbox; use os.getenv, os.environ or os.path directly")
        if attr_node.value not in ALLOWED_OS_ATTRS:
            raise self.fail(n, f"os.{attr_node.value} is not available in the sandbox (no processes, no file "
                            "system changes)")

    def environ_get(self, n: ast.Call) -> None:
        """`os.environ.get(k)` -> `os.getenv(k)`: an ungranted name is the same PermissionError."""
        f = n.func
        if not (isinstance(f, ast.Attribute) and f.attr == "get" and self.is_os_environ(f.value)):
            return
        assert f.end_lineno is not None and f.end_col_offset is not None
        env_mod = f.value.value.id  # type: ignore[attr-defined]
        self.edits.append((f.lineno, f.col_offset, f.end_lineno, f.end_col_offset, f"{env_mod}.getenv"))
        self.b.impure = True

    # -- imports ----------------------------------------------------------------------------------

    def visit_Import(self, n: ast.Import) -> None:
        if not any(a.name.split(".")[0] == "io" for a in n.names):
            for a in n.names:
                self.imported(n, a.name)
            return
        # `import io` -> `io = __flyte_io__` (the sandbox's own in-memory files, see shims.py)
        parts = []
        for a in n.names:
            if a.name == "io":
                parts.append(f"{a.asname or 'io'} = {IO_MODULE}")
                continue
            if a.name.split(".")[0] == "io":
                raise self.fail(n, f"imports '{a.name}', which the sandbox does not provide {_IO_AVAILABLE}")
            self.imported(n, a.name)
            parts.append(f"import {a.name}" + (f" as {a.asname}" if a.asname else ""))
        self.replace(n, "; ".join(parts))
        self.b.uses_io = True

    def visit_ImportFrom(self, n: ast.ImportFrom) -> None:
        module = n.module or ""
        if module.split(".")[0] == "io" and not n.level:
            # `from io import StringIO as S` -> `S = __flyte_io__.StringIO`
            for a in n.names:
                if module != "io" or a.name not in IO_ATTRS:
                    raise self.fail(n, f"{module}.{a.name} is not available in the sandbox {_IO_AVAILABLE}")
            self.replace(n, "; ".join(f"{a.asname or a.name} = {IO_MODULE}.{a.name}" for a in n.names))
            self.b.uses_io = True
            return
        if module.split(".")[0] == "os" and not n.level:
            for a in n.names:
                attr = a.name if module == "os" else module.split(".")[1]
                if attr == "*":
                    raise self.fail(n, f"'from {module} import *' is not available in the sandbox; import the "
                                    "names you use")
                if attr not in ALLOWED_OS_ATTRS:
                    raise self.fail(n, f"os.{attr} is not available in the sandbox (no processes, no file system "
                                    "changes)")
        if n.level:
            raise self.fail(n, "relative imports are not available in the sandbox")
        self.imported(n, module)
        for a in n.names:
            self.probe(n, module, a.name)

    def imported(self, n: ast.Import | ast.ImportFrom, name: str) -> None:
        root = name.split(".")[0]
        if root == "flyte":
            raise self.fail(n, "import flyte at module level; inside the body only flyte.map is available")
        if root not in ALLOWED_MODULES:
            raise self.fail(n, f"imports '{name}', which the sandbox does not provide "
                            f"(available: {_AVAILABLE})")
        self.probe(n, name, None)
        if root in ("time", "asyncio"):
            self.b.sleeps = True
        if root in _IMPURE_MODULES:
            self.b.impure = True

    # -- statements the sandbox does not have -----------------------------------------------------

    def visit_ClassDef(self, n: ast.ClassDef) -> None:
        if n.bases or n.keywords:
            raise self.fail(n, f"class '{n.name}' inherits from another class, which the sandbox does not "
                            "support; use a plain class or a dataclass")

    def visit_Yield(self, node: ast.Yield) -> None:
        self.refuse_yield(node)

    def visit_YieldFrom(self, node: ast.YieldFrom) -> None:
        self.refuse_yield(node)

    def refuse_yield(self, n: ast.Yield | ast.YieldFrom) -> None:
        raise self.fail(n, "generators (yield) are not supported; build and return a list")

    def visit_Global(self, node: ast.Global) -> None:
        self.refuse_scope(node)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.refuse_scope(node)

    def refuse_scope(self, n: ast.Global | ast.Nonlocal) -> None:
        raise self.fail(n, f"'{type(n).__name__.lower()}' statements are not allowed: a sandboxed body cannot "
                        "change module state")

    def visit_AsyncWith(self, n: ast.AsyncWith) -> None:
        raise self.fail(n, "'async with' is not supported in the sandbox (pydantic-monty has no asynchronous "
                        "context managers); reading or writing File/Dir contents (File.open, Dir.walk) is not "
                        "available in a body either: run this task with --runtime local, or read files through "
                        "Sandbox(mount=...)")

    # -- async iteration: only over flyte.map.aio(...), rewritten to an awaited list --------------

    def visit_AsyncFor(self, n: ast.AsyncFor) -> None:
        if not self.is_map_aio(n.iter):
            raise self.fail(n, "'async for' only works over flyte.map.aio(...) in the sandbox")
        # `async for x in flyte.map.aio(...)` -> `for x in (await flyte.map.aio(...))`
        self.edits.append((n.lineno, n.col_offset, n.lineno, n.col_offset + len("async "), ""))
        self.edits += wrap_await(n.iter)

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self.comprehension(node)

    def visit_SetComp(self, node: ast.SetComp) -> None:
        self.comprehension(node)

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self.comprehension(node)

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> None:
        self.comprehension(node)

    def comprehension(self, n: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp) -> None:
        for comp in n.generators:
            if not comp.is_async:
                continue
            if not self.is_map_aio(comp.iter):
                raise self.fail(n, "async comprehensions only work over flyte.map.aio(...) in the sandbox")
            self.edits.append(drop_async_keyword(self.src, comp))
            self.edits += wrap_await(comp.iter)

    # -- os, environment, sleeping ----------------------------------------------------------------

    def visit_Subscript(self, n: ast.Subscript) -> None:
        """`os.environ[k]` -> `__flyte_environ_item__(k)`: PermissionError if not granted, KeyError if unset."""
        if isinstance(n.ctx, ast.Store | ast.Del) and isinstance(n.value, ast.Attribute) \
                and self.record_of(n.value.value) is not None:
            self.refuse_record_change(n, n.value)
        if not (isinstance(n.ctx, ast.Load) and self.is_os_environ(n.value)):
            return
        v, sl = n.value, n.slice
        assert n.end_lineno is not None and n.end_col_offset is not None
        assert sl.end_lineno is not None and sl.end_col_offset is not None
        self.edits.append((v.lineno, v.col_offset, sl.lineno, sl.col_offset, f"{ENVIRON_ITEM}("))
        self.edits.append((sl.end_lineno, sl.end_col_offset, n.end_lineno, n.end_col_offset, ")"))
        self.b.environ_item = True
        self.b.impure = True

    def visit_Attribute(self, n: ast.Attribute) -> None:
        if isinstance(n.ctx, ast.Store | ast.Del) and self.record_of(n.value) is not None:
            self.refuse_record_change(n, n)
        if not isinstance(n.value, ast.Name) or id(n) in self.annotations:
            return
        module = self.module_name(n.value.id)
        if module == "os" and n.attr not in ALLOWED_OS_ATTRS:
            raise self.fail(n, f"os.{n.attr} is not available in the sandbox (no processes, no file system changes)")
        if module == "io" and n.attr not in IO_ATTRS:
            raise self.fail(n, f"io.{n.attr} is not available in the sandbox {_IO_AVAILABLE}")
        if n.attr not in FLYTE_ATTRS and n.value.id not in self.local_names \
                and _is_flyte_module(self.g.get(n.value.id)):
            raise self.fail(n, f"flyte.{n.attr} is not available inside a sandboxed body (of flyte, only flyte.map "
                            "and flyte.group are); pass what the body needs as task inputs")
        if module is not None and isinstance(n.ctx, ast.Load) \
                and (n.value.id not in self.local_names or n.value.id in self.local_modules):
            self.probe(n, module, n.attr)
        if n.attr == "sleep":
            self.b.sleeps = True

    def visit_Name(self, n: ast.Name) -> None:
        if n.id in ("print", "open", "input", "sleep"):
            self.b.impure = True
            if n.id == "sleep":
                self.b.sleeps = True


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

_MUTATORS = frozenset({"append", "extend", "insert", "remove", "pop", "clear", "update", "setdefault", "popitem",
                       "add", "discard", "sort", "reverse", "difference_update", "intersection_update",
                       "symmetric_difference_update"})


def _mutation_line(fn: ast.AST, name: str) -> int | None:
    """First line (relative to the function) where ``name[...] = ...``, ``del name[...]``, ``name.x = ...`` or
    ``name.append(...)``-like mutation happens."""
    lines: list[int] = []
    for n in ast.walk(fn):
        stored = isinstance(n, ast.Subscript | ast.Attribute) and isinstance(n.ctx, ast.Store | ast.Del) \
            and isinstance(n.value, ast.Name) and n.value.id == name
        called = isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _MUTATORS \
            and isinstance(n.func.value, ast.Name) and n.func.value.id == name
        if (stored or called) and isinstance(n, ast.expr):
            lines.append(n.lineno)
    return min(lines) if lines else None


def _local_names(fn: ast.AST) -> set[str]:
    """Names assigned inside the function (parameters included): they shadow module globals."""
    out: set[str] = set()
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
            out.add(n.id)
        elif isinstance(n, ast.arg):
            out.add(n.arg)
        elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n is not fn:
            out.add(n.name)
        elif isinstance(n, ast.Import | ast.ImportFrom):
            out.update((a.asname or a.name.split(".")[0]) for a in n.names)
    return out


def _record_class(t: Any) -> type | None:
    """The record class an annotation names (``P``, ``P | None``, ``Annotated[P, ...]``), else None."""
    if isinstance(t, type):
        return t if is_record_class(t) else None
    origin = typing.get_origin(t)
    if origin is typing.Annotated:
        return _record_class(typing.get_args(t)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        return _record_class(args[0]) if len(args) == 1 else None
    return None


def _record_fields(cls: type) -> dict[str, Any]:
    """name -> annotation of what a record carries into the sandbox (see values.py)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    if dataclasses.is_dataclass(cls):
        return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}
    model_fields = getattr(cls, "model_fields", None)
    if isinstance(model_fields, dict):
        return {k: getattr(f, "annotation", Any) for k, f in model_fields.items()}
    return dict.fromkeys(("path", "name", "format", "hash"), Any)  # flyte.io.File / Dir


def _record_params(func: types.FunctionType, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, type]:
    """Parameters annotated with a record class and never rebound (nor shadowed) in the function."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        return {}
    a = fn.args
    own = [*a.posonlyargs, *a.args, *a.kwonlyargs]
    rebound = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del)}
    rebound |= {n.arg for n in ast.walk(fn) if isinstance(n, ast.arg) and all(n is not x for x in own)}
    out: dict[str, type] = {}
    for arg in own:
        cls = _record_class(hints.get(arg.arg))
        if cls is not None and arg.arg not in rebound:
            out[arg.arg] = cls
    # `q = Point(...)`, assigned once, with Point a module-level record class: built by the host, read-only too.
    stores: dict[str, int] = {}
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
            stores[n.id] = stores.get(n.id, 0) + 1
    for n in ast.walk(fn):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) \
                and stores.get(n.targets[0].id) == 1 and isinstance(n.value, ast.Call) \
                and isinstance(n.value.func, ast.Name) and n.value.func.id not in rebound:
            value = func.__globals__.get(n.value.func.id)
            if isinstance(value, type) and is_record_class(value):
                out[n.targets[0].id] = value
    return out


def _annotation_nodes(fn: ast.AST) -> set[int]:
    """ids of the nodes inside the function's annotations (the sandbox never evaluates them)."""
    skip: set[int] = set()
    for n in ast.walk(fn):
        annos: list[ast.AST | None] = []
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
            annos.append(n.returns)
            a = n.args
            annos += [x.annotation for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if x]
        elif isinstance(n, ast.AnnAssign):
            annos.append(n.annotation)
        for anno in annos:
            if anno is not None:
                skip.update(id(x) for x in ast.walk(anno))
    return skip


def _used_names(fn: ast.AST) -> dict[str, int]:
    """Names the function reads, with the first line each is used on (annotations left out)."""
    skip = _annotation_nodes(fn)
    out: dict[str, int] = {}
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and id(n) not in skip and (n.id not in out or n.lineno < out[n.id]):
            out[n.id] = n.lineno
    return out


def _is_flyte_module(v: Any) -> bool:
    return v is flyte


def _is_flyte_map(v: Any) -> bool:
    return isinstance(v, type(flyte.map))


def _from_flyte(v: Any) -> bool:
    """A function, class, object or module of flyte's own (other than those the sandbox provides)."""
    mod = v.__name__ if isinstance(v, types.ModuleType) else getattr(v, "__module__", None)
    if not isinstance(mod, str):
        mod = getattr(type(v), "__module__", "")
    return isinstance(mod, str) and mod.split(".")[0] == "flyte"


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
