"""The check of one function's body: what the sandbox refuses, naming the line, and the rewrites it makes.

:class:`BodyCheck` is an ``ast.NodeVisitor`` with one ``visit_*`` method per construct. Refused: what the
sandbox cannot run (imports outside the allowed modules, ``os`` beyond its allowed names, class
inheritance, generators, ``async with``, ``global``, most of ``flyte``, methods of and changes to
records). Rewritten, keeping every line where it was: ``asyncio.gather(*(t(x) for ...))`` into one host
call, ``async for`` over ``flyte.map.aio`` into an awaited list, ``os.environ`` reads into checked ones,
``import io`` into the sandbox's own in-memory files, a task's default values into ``None``.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import types
import typing
from typing import TYPE_CHECKING, Any

import flyte
from flyte.errors import SandboxError
from flyte.io import Dir, File

from flyte_sandbox.rewrite import Edit, apply_edits, drop_async_keyword, wrap_await
from flyte_sandbox.rules import (
    ALLOWED_MODULES,
    ALLOWED_OS_ATTRS,
    AVAILABLE,
    DATACLASS_FUNCTIONS,
    ENVIRON_ITEM,
    FLYTE_ATTRS,
    GATHER_HOST,
    IMPURE_MODULES,
    IO_AVAILABLE,
    MISSING_ATTRIBUTES,
    MODEL_METHODS,
    is_flyte_map,
    is_flyte_module,
)
from flyte_sandbox.shims import IO_ATTRS, IO_MODULE, ROUND_FUNCTION
from flyte_sandbox.typecheck import is_record_class

if TYPE_CHECKING:
    from flyte_sandbox.program import _Builder


class BodyCheck(ast.NodeVisitor):
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
        self.annotations = annotation_nodes(fn)  # never evaluated in the sandbox: not checked
        self.callees = {id(n.func) for n in ast.walk(fn) if isinstance(n, ast.Call)}
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
            return is_flyte_module(self.g.get(target.value.id))
        if isinstance(target, ast.Name):
            return is_flyte_map(self.g.get(target.id))
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
        self.sync_task_in_async(n)
        self.partial_of_task(n)
        self.round_digits(n)
        self.gather_fan_out(n)
        self.getattr_on_os(n)
        self.environ_get(n)
        self.record_method(n)
        if isinstance(n.func, ast.Name) and n.func.id in ("str", "print") and n.func.id not in self.local_names \
                and n.func.id not in self.g:
            for a in n.args:
                self.model_as_text(a)

    def visit_FormattedValue(self, n: ast.FormattedValue) -> None:
        if n.conversion in (-1, ord("s")) and not n.format_spec:
            self.model_as_text(n.value)

    def model_as_text(self, expr: ast.expr) -> None:
        """``str()`` of a pydantic model: pydantic's ``__str__`` (``x=1 y=2``) is host code the sandbox does not run;
        its own text would be the repr (``P(x=1, y=2)``), a silent difference, so it is refused."""
        cls = self.record_of(expr)
        if cls is not None and isinstance(getattr(cls, "model_fields", None), dict):
            raise self.fail(expr, f"formats the pydantic model {cls.__name__} as text (str(), print() or an f-string); "
                            "pydantic's str() is host code, and the sandbox would give its repr instead; use "
                            f"{{x!r}}, .model_dump() or .model_dump_json(), or format its fields")

    def sync_task_in_async(self, n: ast.Call) -> None:
        """``t(...)`` of a sync task in an async body: the local runtime raises SyncTaskCallInAsyncContextError
        when it runs (the call would block the event loop); the sandbox refuses it before the run."""
        f = n.func
        if not isinstance(self.fn, ast.AsyncFunctionDef) or not isinstance(f, ast.Name) or f.id in self.local_names:
            return
        t = self.g.get(f.id)
        if isinstance(t, flyte.TaskTemplate) and not t.is_async:
            raise self.fail(n, f"calls the sync task '{f.id}' as `{f.id}(...)` in an async body, which would block "
                            "the event loop (under --runtime local it raises SyncTaskCallInAsyncContextError); use "
                            f"`await {f.id}.aio(...)`")

    def is_partial(self, f: ast.expr) -> bool:
        """``functools.partial`` (as ``functools.partial``, or a name imported from functools)."""
        if isinstance(f, ast.Attribute):
            return f.attr == "partial" and isinstance(f.value, ast.Name) and self.module_name(f.value.id) == "functools"
        if isinstance(f, ast.Name):
            if f.id not in self.local_names:
                return self.g.get(f.id) is functools.partial
            return any(isinstance(i, ast.ImportFrom) and i.module == "functools"
                       and any((a.asname or a.name) == f.id and a.name == "partial" for a in i.names)
                       for i in ast.walk(self.fn))
        return False

    def partial_of_task(self, n: ast.Call) -> None:
        """``functools.partial(t, ...)`` of a task: pydantic-monty's partial cannot wrap the host's task (it would
        fail when the run gets there), so it is refused now."""
        if not n.args or not self.is_partial(n.func):
            return
        t = n.args[0]
        if isinstance(t, ast.Attribute) and t.attr == "aio":
            t = t.value
        if not isinstance(t, ast.Name) or t.id in self.local_names \
                or not isinstance(self.g.get(t.id), flyte.TaskTemplate):
            return
        raise self.fail(n, f"functools.partial of the task '{t.id}' is not available in the sandbox (its partial "
                        "cannot wrap a task); pass the fixed arguments to each call instead, e.g. "
                        f"`await asyncio.gather(*({t.id}.aio(x, ...) for x in xs))`, or give flyte.map one list per "
                        "argument")

    def missing_attribute(self, n: ast.Attribute) -> None:
        """Attributes of str and exceptions pydantic-monty lacks: an AttributeError at run time, refused now."""
        if n.attr in MISSING_ATTRIBUTES and (n.attr.startswith("__") or id(n) in self.callees):
            raise self.fail(n, f"uses .{n.attr}, {MISSING_ATTRIBUTES[n.attr]}")

    def round_digits(self, n: ast.Call) -> None:
        """``round(x, n)``: rounded by CPython on the host when x is a float (pydantic-monty's differs, shims.py)."""
        f = n.func
        if not isinstance(f, ast.Name) or f.id != "round" or f.id in self.local_names or "round" in self.g \
                or (len(n.args) < 2 and not n.keywords):
            return
        assert f.end_lineno is not None and f.end_col_offset is not None
        self.edits.append((f.lineno, f.col_offset, f.end_lineno, f.end_col_offset, ROUND_FUNCTION))
        self.b.rounds = True
        self.b.impure = True

    def record_method(self, n: ast.Call) -> None:
        """``p.norm()`` on a record that came in: its methods stay on the host (they are not sandboxed code)."""
        f = n.func
        if not isinstance(f, ast.Attribute):
            return
        cls = self.record_of(f.value)
        if cls is not None and f.attr not in _record_fields(cls) and issubclass(cls, File | Dir):
            raise self.fail(n, f"calls {cls.__name__}.{f.attr}(): a body sees a {cls.__name__}'s path and name, not "
                            "its contents (storage is not reachable from the sandbox); read files through "
                            "Sandbox(mount=...), or run this task with --runtime local")
        if cls is not None and f.attr not in _record_fields(cls) \
                and not (f.attr in MODEL_METHODS and isinstance(getattr(cls, "model_fields", None), dict)):
            raise self.fail(n, f"calls {cls.__name__}.{f.attr}(): records ({cls.__name__} is one) cross into "
                            "the sandbox as data and their methods stay on the host; compute it in the body or in "
                            "a plain helper function that takes the record")
        if f.attr in MUTATORS and isinstance(f.value, ast.Attribute) and self.record_of(f.value.value) is not None:
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
                raise self.fail(n, f"imports '{a.name}', which the sandbox does not provide {IO_AVAILABLE}")
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
                    raise self.fail(n, f"{module}.{a.name} is not available in the sandbox {IO_AVAILABLE}")
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
        if module == "dataclasses" and any(a.name in DATACLASS_FUNCTIONS for a in n.names):
            # `from dataclasses import dataclass, replace` -> `from dataclasses import dataclass; replace = ...`
            rest = [a for a in n.names if a.name not in DATACLASS_FUNCTIONS]
            parts = [f"{a.asname or a.name} = {DATACLASS_FUNCTIONS[a.name]}" for a in n.names
                     if a.name in DATACLASS_FUNCTIONS]
            if rest:
                parts.insert(0, "from dataclasses import " + ", ".join(
                    a.name + (f" as {a.asname}" if a.asname else "") for a in rest))
            self.replace(n, "; ".join(parts))
            self.b.dataclass_functions = True
            self.b.impure = True
        for a in n.names:
            if not (module == "dataclasses" and a.name in DATACLASS_FUNCTIONS):
                self.probe(n, module, a.name)

    def imported(self, n: ast.Import | ast.ImportFrom, name: str) -> None:
        root = name.split(".")[0]
        if root == "flyte":
            raise self.fail(n, "import flyte at module level; inside the body only flyte.map is available")
        if root not in ALLOWED_MODULES:
            raise self.fail(n, f"imports '{name}', which the sandbox does not provide "
                            f"(available: {AVAILABLE})")
        self.probe(n, name, None)
        if root in ("time", "asyncio"):
            self.b.sleeps = True
        if root in IMPURE_MODULES:
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
        self.missing_attribute(n)
        if isinstance(n.ctx, ast.Store | ast.Del) and self.record_of(n.value) is not None:
            self.refuse_record_change(n, n)
        if isinstance(n.ctx, ast.Load) and id(n) not in self.callees and id(n) not in self.annotations:
            cls = self.record_of(n.value)
            if cls is not None and n.attr not in _record_fields(cls) and not n.attr.startswith("__"):
                raise self.fail(n, f"reads {cls.__name__}.{n.attr}, which is not one of its fields: records cross "
                                "into the sandbox as their fields only (a property's code is not sandboxed code); "
                                "compute it in the body from the fields")
        if not isinstance(n.value, ast.Name) or id(n) in self.annotations:
            return
        module = self.module_name(n.value.id)
        if module == "os" and n.attr not in ALLOWED_OS_ATTRS:
            raise self.fail(n, f"os.{n.attr} is not available in the sandbox (no processes, no file system changes)")
        if module == "io" and n.attr not in IO_ATTRS:
            raise self.fail(n, f"io.{n.attr} is not available in the sandbox {IO_AVAILABLE}")
        if n.attr not in FLYTE_ATTRS and n.value.id not in self.local_names \
                and is_flyte_module(self.g.get(n.value.id)):
            raise self.fail(n, f"flyte.{n.attr} is not available inside a sandboxed body (of flyte, only flyte.map "
                            "and flyte.group are); pass what the body needs as task inputs")
        if module == "dataclasses" and n.attr in DATACLASS_FUNCTIONS and isinstance(n.ctx, ast.Load):
            # `dataclasses.replace` -> `__flyte_dc_replace__`, a sandbox function that asks the host (shims.py)
            assert n.end_lineno is not None and n.end_col_offset is not None
            self.edits.append((n.lineno, n.col_offset, n.end_lineno, n.end_col_offset, DATACLASS_FUNCTIONS[n.attr]))
            self.b.dataclass_functions = True
            self.b.impure = True
        elif module is not None and isinstance(n.ctx, ast.Load) \
                and (n.value.id not in self.local_names or n.value.id in self.local_modules):
            self.probe(n, module, n.attr)
        if n.attr == "sleep":
            self.b.sleeps = True

    def visit_Name(self, n: ast.Name) -> None:
        if n.id in ("print", "open", "input", "sleep"):
            self.b.impure = True
            if n.id == "sleep":
                self.b.sleeps = True


MUTATORS = frozenset({"append", "extend", "insert", "remove", "pop", "clear", "update", "setdefault", "popitem",
                       "add", "discard", "sort", "reverse", "difference_update", "intersection_update",
                       "symmetric_difference_update"})


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
    # `q = Point(...)` with Point a module-level record class, or `q = t(...)` / `q = await t.aio(...)` with `t` a
    # task returning a record, assigned once: the host's record, read-only too.
    stores: dict[str, int] = {}
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
            stores[n.id] = stores.get(n.id, 0) + 1
    for n in ast.walk(fn):
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) \
                and stores.get(n.targets[0].id) == 1:
            cls = _record_made_by(n.value, func.__globals__, rebound)
            if cls is not None:
                out[n.targets[0].id] = cls
    # `for p in points:` / `[... for p in s.corners]` over a list of records (a parameter, or a record's field)
    lists = {arg.arg: hints.get(arg.arg) for arg in own if arg.arg not in rebound}
    for n in ast.walk(fn):
        if isinstance(n, ast.For | ast.comprehension) and isinstance(n.target, ast.Name) \
                and stores.get(n.target.id) == 1:
            cls = _element_record(n.iter, lists, out)
            if cls is not None:
                out[n.target.id] = cls
    return out


def _element_record(expr: ast.expr, lists: dict[str, Any], records: dict[str, type]) -> type | None:
    """The record class of the items of ``expr`` when it is a parameter or a record field of type list[Record]."""
    t: Any = None
    if isinstance(expr, ast.Name):
        t = lists.get(expr.id)
    elif isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id in records:
        t = _record_fields(records[expr.value.id]).get(expr.attr)
    if typing.get_origin(t) is list and typing.get_args(t):
        return _record_class(typing.get_args(t)[0])
    return None


def _record_made_by(expr: ast.expr, module_globals: dict[str, Any], rebound: set[str]) -> type | None:
    """The record class ``expr`` yields: ``Point(...)`` (a record class), ``t(...)``, ``t.aio(...)`` (awaited or
    not) of a task whose one output is a record; else None."""
    if isinstance(expr, ast.Await):
        expr = expr.value
    if not isinstance(expr, ast.Call):
        return None
    f = expr.func
    if isinstance(f, ast.Attribute) and f.attr == "aio":
        f = f.value
    if not isinstance(f, ast.Name) or f.id in rebound:
        return None
    value = module_globals.get(f.id)
    if isinstance(value, type):
        return value if is_record_class(value) else None
    if isinstance(value, flyte.TaskTemplate):
        outputs = list(value.interface.outputs.values())
        return _record_class(outputs[0].python_type) if len(outputs) == 1 else None
    return None


def annotation_nodes(fn: ast.AST) -> set[int]:
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
