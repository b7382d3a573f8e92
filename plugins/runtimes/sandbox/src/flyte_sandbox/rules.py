"""What a sandboxed body may use, and the names the program builder, the body check and the executor share.

Checked against pydantic-monty 1.4: what its interpreter provides, and what it lacks.
"""

from __future__ import annotations

import types
from typing import Any

import flyte

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
# Attributes of builtin types pydantic-monty 1.4 lacks (each an AttributeError there), and what to use instead.
# Dunders are refused wherever they are read; the others (method names) only when called.
_NO_EXC_ATTR = ("which exceptions in the sandbox's Python (pydantic-monty) do not have; use str(e), e.args or "
                "type(e) instead (or keep what you need in a variable before raising)")
MISSING_ATTRIBUTES = {
    "format_map": "which str in the sandbox's Python (pydantic-monty) does not have; use s.format(**mapping)",
    "__cause__": _NO_EXC_ATTR,
    "__context__": _NO_EXC_ATTR,
    "__traceback__": _NO_EXC_ATTR,
    "__suppress_context__": _NO_EXC_ATTR,
    "__notes__": _NO_EXC_ATTR,
    "add_note": _NO_EXC_ATTR,
    "with_traceback": _NO_EXC_ATTR,
}
# What of ``os`` a body may touch: environment (granted names only) and paths (granted mount only).
ALLOWED_OS_ATTRS = frozenset({"getenv", "environ", "path", "getcwd", "listdir", "sep", "linesep", "fspath", "stat"})
AVAILABLE = ", ".join(sorted((ALLOWED_MODULES - {"__future__"}) | {"io"}))  # for messages; io: see shims.py
IO_AVAILABLE = ("(of io, only io.StringIO and io.BytesIO are: in-memory files; read real files through "
                "Sandbox(mount=...))")
IMPURE_MODULES = frozenset({"os", "pathlib", "time", "asyncio"})  # file, env, clock or sleep: not batched
FLYTE_ATTRS = frozenset({"map", "group"})  # what of `flyte` a body may use

# Names the program and the executor share: the body function, its inputs, and the host functions the
# sandbox-side facades call (each answered by the executor).
BODY = "__flyte_body__"
KWARGS = "__flyte_kwargs__"
BATCH = "__flyte_batch__"
GATHER_HOST = "__flyte_gather__"
ENVIRON_ITEM = "__flyte_environ_item__"
MAP_HOST = "__flyte_map__"
MAP_AIO_HOST = "__flyte_map_aio__"
GROUP_HOST = "__flyte_group__"  # (name, entering): the host enters or leaves flyte.group(name) for the body
# Methods of pydantic models a body may call (pydantic's own code, run by the host on the host's record).
MODEL_METHODS = frozenset({"model_dump", "model_dump_json", "model_copy"})
ROUND_HOST = "__flyte_round__"  # (number, ndigits): round() of a float to ndigits, answered by CPython (see shims.py)
DATACLASSES_HOST = "__flyte_dataclasses__"  # (operation, record, changes): dataclasses.replace/asdict/astuple
# dataclasses functions pydantic-monty lacks, answered by the host: name -> sandbox-side function calling it
DATACLASS_FUNCTIONS = {name: f"__flyte_dc_{name}__" for name in ("replace", "asdict", "astuple")}


def is_flyte_module(v: Any) -> bool:
    return v is flyte


def is_flyte_map(v: Any) -> bool:
    return isinstance(v, type(flyte.map))


def from_flyte(v: Any) -> bool:
    """A function, class, object or module of flyte's own (other than those the sandbox provides)."""
    mod = v.__name__ if isinstance(v, types.ModuleType) else getattr(v, "__module__", None)
    if not isinstance(mod, str):
        mod = getattr(type(v), "__module__", "")
    return isinstance(mod, str) and mod.split(".")[0] == "flyte"
