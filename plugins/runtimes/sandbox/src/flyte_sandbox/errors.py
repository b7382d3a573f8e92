"""Errors of the sandbox runtime, and how pydantic-monty failures become them."""

from __future__ import annotations

import re
from typing import Any

from flyte.errors import NonRecoverableError, RuntimeUserError, SandboxError


class SandboxLimitError(SandboxError, NonRecoverableError):
    """A task body hit one of its sandbox limits (time, memory, recursion depth, host calls).

    ``limit`` is ``"time"``, ``"sleep time"``, ``"memory"``, ``"recursion depth"`` or ``"host call"``.
    Limits are deterministic (the same inputs hit the same limit again), so a limit hit is not
    retried, whatever the task's ``retries=`` says: it is a ``NonRecoverableError``.
    """

    def __init__(self, task: str, action: str | None, limit: str, value: str, hint: str, detail: str = "") -> None:
        RuntimeUserError.__init__(self, "SandboxLimitExceeded", "", task=task, action=action)
        self.limit = limit
        self.value = value
        where = f"task '{task}'" + (f" (action {action})" if action else "")
        text = f"{where} exceeded the sandbox {limit} limit of {value}; {hint}"
        if detail:
            text += f" [{detail}]"
        self.args = (text,)


class SandboxCrashError(SandboxError, RuntimeUserError):
    """The worker running a task body died; the pool replaces it and the host is unharmed."""

    def __init__(self, task: str, action: str | None, detail: str) -> None:
        RuntimeUserError.__init__(self, "SandboxWorkerCrashed", f"the sandbox worker died: {detail}", task=task,
                                  action=action)


_MEM = re.compile(r"memory limit exceeded")
_TIME = re.compile(r"(feed|turn) time limit exceeded|sleep limit exceeded")
_CALLS = re.compile(r"suspension", re.IGNORECASE)


def limit_error(
    exc: Any, task: str, action: str | None, sandbox: Any, timeout: float | None
) -> SandboxLimitError | None:
    """The limit a ``MontyRuntimeError`` reports, as a SandboxLimitError; None for an ordinary exception."""
    inner = exc.exception()
    text = str(exc)
    if isinstance(inner, MemoryError) and _MEM.search(text):
        return SandboxLimitError(task, action, "memory", sandbox.memory_text,
                                 "give it more with Sandbox(memory=...)", text.split(": ", 1)[-1])
    if isinstance(inner, TimeoutError) and _TIME.search(text):
        seconds = sandbox.timeout if timeout is None else min(sandbox.timeout, timeout)
        what = "sleep time" if "sleep" in text else "time"
        return SandboxLimitError(task, action, what, f"{seconds:g} s", "give it more with Sandbox(timeout=...)",
                                 text.split(": ", 1)[-1])
    if isinstance(inner, RecursionError):
        return SandboxLimitError(task, action, "recursion depth", str(sandbox.max_recursion_depth),
                                 "raise it with Sandbox(max_recursion_depth=...)")
    if isinstance(inner, RuntimeError) and _CALLS.search(text):
        return SandboxLimitError(task, action, "host call", str(sandbox.max_calls),
                                 "raise it with Sandbox(max_calls=...)", text.split(": ", 1)[-1])
    return None


__all__ = ["SandboxCrashError", "SandboxError", "SandboxLimitError", "limit_error"]
