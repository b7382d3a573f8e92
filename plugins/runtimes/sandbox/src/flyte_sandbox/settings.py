"""``Sandbox``: the limits and grants of a sandboxed task (pure data; imports nothing heavy)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Sleep budget of an attempt whose task timeout= binds (the controller's wall clock stops it first).
UNBUDGETED_SLEEP = 1e9

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 2**20, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def _parse_memory(value: int | str) -> int:
    """``256`` (MB), ``"256MB"``, ``"1Gi"`` -> bytes. MB and MiB are both taken as 2**20 here."""
    if isinstance(value, bool):
        raise TypeError("memory must be a number of megabytes or a string like '256MB'")
    if isinstance(value, int):
        return value * 2**20
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"memory {value!r} is not a size; use e.g. 256, '256MB' or '1GB'")
    unit = (m.group(2) or "").lower().rstrip("b")
    # Users write "MB" meaning a megabyte of RAM, which is a MiB to everyone else in this field.
    unit = {"k": "ki", "m": "mi", "g": "gi", "t": "ti"}.get(unit, unit)
    return int(float(m.group(1)) * _UNITS[unit])


def _human_bytes(n: int) -> str:
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    if n >= 2**20:
        return f"{n / 2**20:.1f} MB"
    return f"{n} bytes"


@dataclass(frozen=True)
class Sandbox:
    """Limits and grants for task bodies run by the ``sandbox`` runtime.

    Pass it as ``sandbox=`` to ``flyte.TaskEnvironment(...)`` or ``@env.task(...)``, or
    override per call with ``task.override(sandbox=...)``. Defaults are strict: 10 s,
    256 MB, recursion depth 200, no folder, no environment variables.

    * ``timeout``: seconds the body may compute, and separately seconds it may sleep,
      in one attempt. Time spent waiting for child tasks is not counted (each child
      has its own limits); ``@env.task(timeout=...)`` still bounds the whole attempt.
    * ``memory``: heap limit, in MB (int) or as a string (``"512MB"``, ``"1GB"``).
    * ``max_recursion_depth``: deepest Python call stack inside the body.
    * ``mount``: a host folder the body may read (never write), seen at ``mount_path``.
    * ``env``: names of environment variables the body may read with ``os.getenv``.
    * ``max_calls``: host round trips per attempt (child task calls, file reads ...).

    Example::

        from flyte_sandbox import Sandbox

        env = flyte.TaskEnvironment(name="untrusted", sandbox=Sandbox(timeout=2, memory="64MB"))

        @env.task(sandbox=Sandbox(mount="./data", env=["REGION"]))
        def count_lines(name: str) -> int:
            return len(open(f"/data/{name}").read().splitlines())
    """

    timeout: float = 10.0
    memory: int | str = 256
    max_recursion_depth: int = 200
    mount: str | os.PathLike[str] | None = None
    mount_path: str = "/data"
    env: tuple[str, ...] = ()
    max_calls: int = 100_000
    memory_bytes: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float) or self.timeout <= 0:
            raise ValueError(f"Sandbox(timeout={self.timeout!r}): give a positive number of seconds")
        object.__setattr__(self, "memory_bytes", _parse_memory(self.memory))
        if self.memory_bytes < 2**20:
            raise ValueError(f"Sandbox(memory={self.memory!r}): at least 1 MB is needed to run anything")
        if not isinstance(self.max_recursion_depth, int) or self.max_recursion_depth < 10:
            raise ValueError(f"Sandbox(max_recursion_depth={self.max_recursion_depth!r}): give an int >= 10")
        if isinstance(self.env, str):
            object.__setattr__(self, "env", (self.env,))
        else:
            object.__setattr__(self, "env", tuple(self.env))
        if not all(isinstance(e, str) and e for e in self.env):
            raise ValueError(f"Sandbox(env={self.env!r}): give environment variable names")
        if not self.mount_path.startswith("/"):
            raise ValueError(f"Sandbox(mount_path={self.mount_path!r}): must be an absolute path like '/data'")
        if self.mount is not None:
            p = Path(self.mount).expanduser()
            if not p.is_dir():
                raise ValueError(f"Sandbox(mount={os.fspath(self.mount)!r}): not a folder")
            object.__setattr__(self, "mount", str(p.resolve()))
        if not isinstance(self.max_calls, int) or self.max_calls < 1:
            raise ValueError(f"Sandbox(max_calls={self.max_calls!r}): give a positive int")

    # -- derived ---------------------------------------------------------------------------

    @property
    def memory_text(self) -> str:
        return _human_bytes(self.memory_bytes)

    def limits(self, timeout: float | None = None) -> dict[str, Any]:
        """pydantic-monty ``ResourceLimits`` for one attempt (``timeout`` can only tighten).

        When the task's own ``timeout`` is the binding one, sleeps are not budgeted here: the wall
        clock of the attempt is the controller's (it raises the task timeout error, as locally).
        """
        seconds = float(self.timeout if timeout is None else min(self.timeout, timeout))
        return {
            "max_feed_duration_secs": seconds,
            "max_total_sleep_secs": UNBUDGETED_SLEEP if self.task_timeout_binds(timeout) else seconds,
            "max_memory": self.memory_bytes,
            "max_recursion_depth": self.max_recursion_depth,
            "max_suspensions": self.max_calls,
        }

    def task_timeout_binds(self, timeout: float | None) -> bool:
        """Whether the task's ``timeout=`` (not this sandbox's) is the attempt's time limit."""
        return timeout is not None and timeout <= self.timeout

    def key(self) -> tuple[Any, ...]:
        """What decides whether two tasks can share a warm worker session (the limits)."""
        return (float(self.timeout), self.memory_bytes, self.max_recursion_depth, self.max_calls)


DEFAULT = Sandbox()


def sandbox_of(task: Any) -> Sandbox:
    """The task's ``Sandbox`` (``task.sandbox``, else the environment's, else the strict default)."""
    sb = getattr(task, "sandbox", None)
    if sb is None:
        env = getattr(task, "env", None)
        sb = getattr(env, "sandbox", None) if env is not None else None
    if sb is None:
        return DEFAULT
    if isinstance(sb, Sandbox):
        return sb
    if isinstance(sb, dict):
        return Sandbox(**sb)
    from flyte.errors import SandboxError

    raise SandboxError(
        f"Task '{getattr(task, 'name', task)}': sandbox= takes flyte_sandbox.Sandbox(...) or a dict of its "
        f"fields, got {sb!r}"
    )
