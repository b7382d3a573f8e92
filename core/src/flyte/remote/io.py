"""The files of the worker contract: ``inputs.pb``, ``outputs.pb`` and ``error.pb``.

``inputs.pb`` is a flyteidl2 ``task.Inputs`` (named literals), ``outputs.pb`` a ``task.Outputs``,
both in the action's folder; ``error.pb`` is a ``core.ErrorDocument`` that the backend reads
before ``outputs.pb``. A failed action's error comes back to the caller as an
``ExecutionError`` (on a watch update or in the action's details) and becomes a Python exception
here, the same one a local run raises.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import TYPE_CHECKING, Any

from flyte.errors import FlyteError, NonRecoverableError, RunAbortedError, RuntimeUserError, TaskTimedoutError

if TYPE_CHECKING:
    from flyteidl2.core import execution_pb2
    from flyteidl2.task import common_pb2

INPUTS = "inputs.pb"
OUTPUTS = "outputs.pb"
ERROR = "error.pb"


def join(prefix: str, name: str) -> str:
    return prefix.rstrip("/") + "/" + name


def inputs_message(lits: dict[str, Any]) -> common_pb2.Inputs:
    from flyteidl2.task import common_pb2

    return common_pb2.Inputs(literals=[common_pb2.NamedLiteral(name=k, value=v) for k, v in lits.items()])


def outputs_message(lits: dict[str, Any]) -> common_pb2.Outputs:
    from flyteidl2.task import common_pb2

    return common_pb2.Outputs(literals=[common_pb2.NamedLiteral(name=k, value=v) for k, v in lits.items()])


def local_path(uri: str) -> str | None:
    """The path of a local ``uri`` (plain path or ``file://``); None for object stores. Local files skip fsspec."""
    if uri.startswith("file://"):
        return uri[len("file://"):]
    if "://" in uri:
        return None
    return uri


def _read(uri: str) -> bytes:
    import flyte.storage as storage

    path = local_path(uri)
    if path is not None:
        with open(path, "rb") as fh:
            return fh.read()

    with storage.open_sync(uri, "rb") as f:
        data: bytes = f.read()
    return data


def _write(uri: str, data: bytes) -> None:
    import os

    import flyte.storage as storage

    path = local_path(uri)
    if path is not None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        return

    with storage.open_sync(uri, "wb") as f:
        f.write(data)


async def read_bytes(uri: str) -> bytes:
    return await asyncio.to_thread(_read, uri)


async def write_bytes(uri: str, data: bytes) -> None:
    await asyncio.to_thread(_write, uri, data)


async def read_inputs(uri: str) -> dict[str, Any]:
    """Named literals of an ``inputs.pb`` (an empty or missing path: no inputs)."""
    from flyteidl2.task import common_pb2

    if not uri:
        return {}
    data = await read_bytes(uri)
    msg = common_pb2.Inputs.FromString(data)
    return {nl.name: nl.value for nl in msg.literals}


async def read_outputs(prefix: str) -> dict[str, Any]:
    """Named literals of ``<prefix>/outputs.pb`` (a task without outputs may not write one)."""
    from flyteidl2.task import common_pb2

    try:
        data = await read_bytes(join(prefix, OUTPUTS))
    except (FileNotFoundError, FlyteError) as e:
        if isinstance(e, FileNotFoundError) or "not found" in str(e).lower() or "no such" in str(e).lower():
            return {}
        raise
    msg = common_pb2.Outputs.FromString(data)
    return {nl.name: nl.value for nl in msg.literals}


def error_document(exc: BaseException, *, system: bool = False) -> execution_pb2.ErrorDocument:
    """The ``ErrorDocument`` for ``exc``: user or system, recoverable or not; the traceback is kept in the message."""
    from flyteidl2.core import execution_pb2

    ce = execution_pb2.ContainerError
    code = getattr(exc, "code", None) or type(exc).__name__
    headline = str(exc) if isinstance(exc, FlyteError) else f"{type(exc).__name__}: {exc}"
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return execution_pb2.ErrorDocument(
        error=ce(
            code=str(code),
            message=f"{headline}\n\n{tb}" if tb else headline,
            kind=ce.NON_RECOVERABLE if isinstance(exc, NonRecoverableError) else ce.RECOVERABLE,
            origin=execution_pb2.ExecutionError.SYSTEM if system else execution_pb2.ExecutionError.USER,
        )
    )


def exception_from(error: execution_pb2.ExecutionError, *, task: str, action: str, phase: str = "FAILED") -> Exception:
    """The Python exception for a failed child action (what a local run of it would raise)."""
    message = error.message or f"action {action} {phase.lower()}"
    headline = message.split("\n\n", 1)[0]
    if phase == "ABORTED":
        return RunAbortedError(f"action {action} (task '{task}') was aborted: {headline}")
    code = error.code or "Unknown"
    if phase == "TIMED_OUT" or code in ("Timeout", "TaskTimedOut"):
        err: RuntimeUserError = TaskTimedoutError(code, headline, task=task, action=action)
    else:
        err = RuntimeUserError(code, headline, task=task, action=action)
    err.remote_traceback = message  # type: ignore[attr-defined]
    return err
