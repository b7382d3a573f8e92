"""Stored rows to flyteidl2 messages, request validation helpers and identifier normalisation."""

from __future__ import annotations

from typing import Any, NoReturn

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.common import identifier_pb2 as ids
from flyteidl2.common import phase_pb2
from flyteidl2.core import execution_pb2
from flyteidl2.task import task_definition_pb2 as td
from flyteidl2.workflow import run_definition_pb2 as rd
from flyteidl2.workflow import state_service_pb2 as ss
from google.protobuf import timestamp_pb2

from flyte_devbox.store import DEFAULT_ORG, ActionRow, AttemptRow, RunKey


def fail(code: Code, message: str) -> NoReturn:
    raise ConnectError(code, message)


def org_of(value: str) -> str:
    """The devbox has one organisation, whatever a client calls it.

    Clients derive the org from the endpoint's host name (the official SDK sends "127" for
    127.0.0.1) or leave it empty; the official worker needs a non-empty one.
    """
    return DEFAULT_ORG


def require(value: Any, field: str, hint: str = "") -> None:
    if not value:
        fail(Code.INVALID_ARGUMENT, f"missing field '{field}'" + (f": {hint}" if hint else ""))


def run_key(rid: ids.RunIdentifier, field: str = "run_id") -> RunKey:
    require(rid.project, f"{field}.project")
    require(rid.domain, f"{field}.domain")
    require(rid.name, f"{field}.name")
    return RunKey(org_of(rid.org), rid.project, rid.domain, rid.name)


def require_task_id(t: Any, field: str = "task_id") -> None:
    """Every part of a task identifier except org (which defaults) must be set."""
    for f in ("project", "domain", "name", "version"):
        require(getattr(t, f), f"{field}.{f}")


def action_key(aid: ids.ActionIdentifier, field: str = "action_id") -> tuple[RunKey, str]:
    key = run_key(aid.run, f"{field}.run")
    require(aid.name, f"{field}.name")
    return key, aid.name


def ts(seconds: float | None) -> timestamp_pb2.Timestamp:
    t = timestamp_pb2.Timestamp()
    if seconds:
        t.FromNanoseconds(int(seconds * 1e9))
    return t


def run_id(key: RunKey) -> ids.RunIdentifier:
    return ids.RunIdentifier(org=key.org, project=key.project, domain=key.domain, name=key.name)


def action_id(a: ActionRow) -> ids.ActionIdentifier:
    return ids.ActionIdentifier(run=run_id(a.run), name=a.name)


def _task_spec(a: ActionRow) -> td.TaskSpec | None:
    if a.kind != "task" or not a.spec:
        return None
    return td.TaskSpec.FromString(a.spec)


def metadata(a: ActionRow, spec: td.TaskSpec | None = None) -> rd.ActionMetadata:
    md = rd.ActionMetadata(parent=a.parent, group=a.group)
    if a.kind == "task":
        md.action_type = rd.ACTION_TYPE_TASK
        spec = spec or _task_spec(a)
        if a.task_id:
            md.task.id.CopyFrom(td.TaskIdentifier.FromString(a.task_id))
        elif spec is not None and spec.task_template.id.name:
            # A run of an undeployed task (CreateRun.task_spec) is still named after its task, as a
            # backend does: SDKs read the task's name from metadata.task.id.
            t = spec.task_template.id
            r = a.run
            md.task.id.CopyFrom(
                td.TaskIdentifier(org=r.org, project=r.project, domain=r.domain, name=t.name, version=t.version)
            )
        if spec is not None:
            md.task.task_type = spec.task_template.type
            md.task.short_name = spec.short_name or spec.task_template.id.name
            md.environment_name = spec.environment.name
            md.funtion_name = spec.task_template.id.name
    elif a.kind == "trace":
        md.action_type = rd.ACTION_TYPE_TRACE
        md.trace.name = a.name
    return md


def status(a: ActionRow) -> rd.ActionStatus:
    st = rd.ActionStatus(phase=a.phase, attempts=a.attempts, start_time=ts(a.start_time))
    if a.end_time is not None:
        st.end_time.CopyFrom(ts(a.end_time))
        st.duration_ms = max(0, int((a.end_time - a.start_time) * 1000))
    return st


def action(a: ActionRow) -> rd.Action:
    return rd.Action(id=action_id(a), metadata=metadata(a), status=status(a))


def error_info(a: ActionRow) -> rd.ErrorInfo | None:
    if not a.error:
        return None
    err = execution_pb2.ExecutionError.FromString(a.error)
    kind = rd.ErrorInfo.KIND_USER if err.kind == execution_pb2.ExecutionError.USER else rd.ErrorInfo.KIND_SYSTEM
    return rd.ErrorInfo(message=err.message, kind=kind, code=err.code)


def action_details(a: ActionRow, attempts: list[AttemptRow]) -> rd.ActionDetails:
    spec = _task_spec(a)
    d = rd.ActionDetails(id=action_id(a), metadata=metadata(a, spec), status=status(a))
    if spec is not None:
        d.task.CopyFrom(spec)
    elif a.kind == "trace" and a.spec:
        d.trace.ParseFromString(a.spec)
    if a.phase == phase_pb2.ACTION_PHASE_ABORTED:
        d.abort_info.reason = a.abort_reason or "aborted"
    else:
        info = error_info(a)
        if info is not None:
            d.error_info.CopyFrom(info)
    for at in attempts:
        pa = d.attempts.add(phase=at.phase, start_time=ts(at.start_time), attempt=at.attempt)
        if at.end_time is not None:
            pa.end_time.CopyFrom(ts(at.end_time))
        pa.outputs.output_uri = at.output_prefix
        pa.logs_available = True
        if at.error:
            err = execution_pb2.ExecutionError.FromString(at.error)
            pa.error_info.message = err.message
            pa.error_info.code = err.code
            pa.error_info.kind = (
                rd.ErrorInfo.KIND_USER if err.kind == execution_pb2.ExecutionError.USER else rd.ErrorInfo.KIND_SYSTEM
            )
    return d


def action_update(a: ActionRow) -> ss.ActionUpdate:
    out = a.output_uri
    if not out and a.kind == "task" and a.run_output_base:
        # Before an attempt ends, the prefix of the current (or first) attempt: SDKs expect every update to
        # name one (the official SDK logs a warning per update without it); outputs are read only on success.
        out = a.run_output_base.rstrip("/") + f"/{a.name}/{max(a.attempts, 1)}"
    u = ss.ActionUpdate(action_id=action_id(a), phase=a.phase, output_uri=out)
    if a.error and a.phase != phase_pb2.ACTION_PHASE_SUCCEEDED:
        u.error.CopyFrom(execution_pb2.ExecutionError.FromString(a.error))
    return u
