"""RunService, ActionsService, QueueService and StateService: runs, actions and their watches."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from connectrpc.code import Code
from connectrpc.request import RequestContext
from flyteidl2.actions import actions_service_connect as asc
from flyteidl2.actions import actions_service_pb2 as asp
from flyteidl2.common import phase_pb2
from flyteidl2.task import common_pb2, run_pb2, task_definition_pb2
from flyteidl2.workflow import queue_service_connect as qsc
from flyteidl2.workflow import queue_service_pb2 as qsp
from flyteidl2.workflow import run_definition_pb2 as rd
from flyteidl2.workflow import run_service_connect as rsc
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import state_service_connect as ssc
from flyteidl2.workflow import state_service_pb2 as ss

from flyte_devbox import convert as cv
from flyte_devbox.convert import fail, org_of, require
from flyte_devbox.core import Devbox, new_run_name
from flyte_devbox.datastore import DataStore
from flyte_devbox.images import check_enabled
from flyte_devbox.pod import MISSING, primary_container
from flyte_devbox.store import ActionRow, RunKey

ROOT = "a0"


def queued_row(
    run: RunKey,
    name: str,
    parent: str,
    group: str,
    input_uri: str,
    run_output_base: str,
    spec: bytes | None = None,
    task_id: bytes | None = None,
) -> ActionRow:
    """A new task action, queued now, with no attempts yet."""
    now = time.time()
    return ActionRow(
        run=run,
        name=name,
        parent=parent,
        group=group,
        kind="task",
        spec=spec,
        task_id=task_id,
        input_uri=input_uri,
        run_output_base=run_output_base,
        phase=phase_pb2.ACTION_PHASE_QUEUED,
        attempts=0,
        start_time=now,
        end_time=None,
        error=None,
        abort_reason=None,
        output_uri="",
        created_at=now,
        queued_at=now,
        version=0,
    )


async def read_pb(data: DataStore, uri: str, msg: Any, what: str) -> Any:
    try:
        raw = await data.read(uri)
    except FileNotFoundError:
        fail(Code.NOT_FOUND, f"{what} not found at {uri}")
    except Exception as e:
        fail(Code.UNAVAILABLE, f"{what} at {uri} could not be read: {type(e).__name__}")
    try:
        msg.ParseFromString(raw)
    except Exception as e:
        fail(Code.DATA_LOSS, f"{what} at {uri} is not a valid {msg.DESCRIPTOR.full_name}: {e}")
    return msg


class Runs:
    """The operations behind RunService and the child-action services."""

    def __init__(self, box: Devbox) -> None:
        self.box = box

    def get_row(self, key: RunKey, name: str) -> ActionRow:
        row = self.box.store.get_action(key, name)
        if row is None:
            if self.box.store.get_run(key) is None:
                fail(Code.NOT_FOUND, f"run {key} not found")
            fail(Code.NOT_FOUND, f"action {name} not found in run {key}")
        return row

    def check_project(self, org: str, project: str, domain: str) -> None:
        from flyteidl2.project import project_service_pb2 as pj

        body = self.box.store.get_project(org, project)
        if body is None:
            fail(Code.NOT_FOUND, f"project '{project}' not found; create it with `flyte create project --id {project}`")
        if domain not in {d.id for d in pj.Project.FromString(body).domains}:
            fail(Code.NOT_FOUND, f"domain '{domain}' not found in project '{project}'")

    def resolve_task(self, req: Any, org: str) -> tuple[task_definition_pb2.TaskSpec, bytes | None]:
        which = req.WhichOneof("task")
        if which == "task_spec":
            spec = req.task_spec
            task_id = None
        elif which == "task_id":
            t = req.task_id
            cv.require_task_id(t)
            check_enabled(self.box, t.project, t.domain, t.name)  # the build task of a devbox that builds no images
            hit = self.box.store.get_task(org_of(t.org), t.project, t.domain, t.name, t.version)
            if hit is None:
                fail(Code.NOT_FOUND, f"task {t.project}/{t.domain}/{t.name}:{t.version} not found; deploy it first")
            spec = task_definition_pb2.TaskSpec.FromString(hit[0])
            task_id = t.SerializeToString()
        elif which == "trigger_name":
            fail(Code.UNIMPLEMENTED, "runs from triggers are not supported by the devbox")
        else:
            fail(Code.INVALID_ARGUMENT, "missing field 'task': set task_spec or task_id")
        if primary_container(spec.task_template) is None:
            fail(Code.INVALID_ARGUMENT, f"task_spec.task_template {MISSING}")
        return spec, task_id

    def resolve_run_key(self, req: Any) -> RunKey:
        which = req.WhichOneof("id")
        if which == "run_id":
            key = cv.run_key(req.run_id)
        elif which == "project_id":
            p = req.project_id
            require(p.name, "project_id.name")
            require(p.domain, "project_id.domain")
            key = RunKey(org_of(p.organization), p.name, p.domain, new_run_name())
        else:
            fail(Code.INVALID_ARGUMENT, "missing field 'id': set run_id or project_id")
        self.check_project(key.org, key.project, key.domain)
        return key

    async def create_run(self, req: rs.CreateRunRequest) -> rd.Run:
        key = self.resolve_run_key(req)
        spec, task_id = self.resolve_task(req, key.org)
        base = self.box.run_base(key)
        which = req.WhichOneof("input_wrapper")
        if which == "offloaded_input_data":
            uri = req.offloaded_input_data.uri
            require(uri, "offloaded_input_data.uri")
            if not self.box.data.owns(uri):
                fail(
                    Code.INVALID_ARGUMENT,
                    f"offloaded_input_data.uri {uri} is not in this devbox's data; use UploadInputs",
                )
            if not await self.box.data.exists(uri):
                fail(Code.NOT_FOUND, f"offloaded inputs not found at {uri}; upload them with UploadInputs first")
            input_uri = uri
            payload = None
        elif which == "inputs" and req.inputs.ByteSize():
            input_uri = self.box.data.join(base, "inputs.pb")
            payload = req.inputs.SerializeToString()
        else:
            input_uri = await self.box.ensure_empty_inputs()
            payload = None
        root = queued_row(key, ROOT, "", "", input_uri, str(base), spec.SerializeToString(), task_id)
        run_spec = req.run_spec
        if req.HasField("run_start_time"):
            run_spec = run_pb2.RunSpec()
            run_spec.CopyFrom(req.run_spec)
            run_spec.run_start_time.CopyFrom(req.run_start_time)
        if payload is not None:
            await self.box.data.write(input_uri, payload)
        if not self.box.store.create_run(key, run_spec.SerializeToString(), base, root):
            fail(Code.ALREADY_EXISTS, f"run {key} already exists; pick another name or omit run_id")
        self.box.bus.publish(root)
        self.box.executor.submit(root)
        return rd.Run(action=cv.action(root))

    def details(self, key: RunKey) -> rd.RunDetails:
        run = self.box.store.get_run(key)
        if run is None:
            fail(Code.NOT_FOUND, f"run {key} not found")
        root = self.get_row(key, ROOT)
        d = rd.RunDetails(action=cv.action_details(root, self.box.store.attempts(root)))
        d.run_spec.ParseFromString(run.run_spec)
        return d

    def child_row(self, a: Any, parent: str, run_spec: Any) -> ActionRow:
        """An ActionRow from ActionsService.Action / QueueService.EnqueueActionRequest fields."""
        key, name = cv.action_key(a.action_id)
        require(parent, "parent_action_name", "child actions need their parent's name")
        parent_row = self.get_row(key, parent)
        if parent_row.terminal and self.box.store.get_action(key, name) is None:
            fail(Code.FAILED_PRECONDITION, f"parent action {parent} of run {key} has already finished; no new children")
        which = a.WhichOneof("spec")
        row = queued_row(key, name, parent, a.group, a.input_uri, a.run_output_base or self.box.run_base(key))
        if which == "task":
            if primary_container(a.task.spec.task_template) is None:
                fail(Code.INVALID_ARGUMENT, f"task.spec.task_template {MISSING}")
            require(a.input_uri, "input_uri")
            row.spec = a.task.spec.SerializeToString()
            if a.task.HasField("id"):
                row.task_id = a.task.id.SerializeToString()
        elif which == "trace":
            tr = a.trace
            now = row.created_at
            row.kind = "trace"
            row.spec = tr.spec.SerializeToString()
            row.phase = tr.phase or phase_pb2.ACTION_PHASE_SUCCEEDED
            row.start_time = tr.start_time.ToNanoseconds() / 1e9 if tr.HasField("start_time") else now
            row.end_time = tr.end_time.ToNanoseconds() / 1e9 if tr.HasField("end_time") else now
            row.output_uri = tr.outputs.output_uri
            row.attempts = 1
        elif which == "condition":
            fail(Code.UNIMPLEMENTED, "condition actions are not supported by the devbox")
        else:
            fail(Code.INVALID_ARGUMENT, "missing field 'spec': set task or trace")
        return row

    def abort_run(self, key: RunKey, reason: str) -> None:
        root = self.get_row(key, ROOT)
        self.box.abort(root, reason or "aborted by user")

    # ---- watches --------------------------------------------------------------------------------

    async def watch_children(self, key: RunKey, parent: str, wrap: Callable[..., Any]) -> AsyncIterator[Any]:
        """Snapshot of the parent's children, a sentinel, then each change (deduplicated by version)."""
        self.get_row(key, parent)
        q = self.box.bus.subscribe(key)
        try:
            sent: dict[str, int] = {}
            for row in self.box.store.children(key, parent):
                sent[row.name] = row.version
                yield wrap(action_update=cv.action_update(row))
            yield wrap(control_message=ss.ControlMessage(sentinel=True))
            while True:
                nxt = await q.get()
                if nxt is None:
                    return
                row = nxt
                if row.parent != parent or sent.get(row.name, -1) >= row.version:
                    continue
                sent[row.name] = row.version
                yield wrap(action_update=cv.action_update(row))
        finally:
            self.box.bus.unsubscribe(key, q)

    async def watch_action(self, key: RunKey, name: str, make: Callable[[ActionRow], Any]) -> AsyncIterator[Any]:
        row = self.get_row(key, name)
        q = self.box.bus.subscribe(key)
        try:
            yield make(row)
            last = row.version
            while not row.terminal:
                nxt = await q.get()
                if nxt is None:
                    return
                if nxt.name != name or nxt.version <= last:
                    continue
                row, last = nxt, nxt.version
                yield make(row)
        finally:
            self.box.bus.unsubscribe(key, q)


def _enriched(row: ActionRow) -> rd.EnrichedAction:
    return rd.EnrichedAction(action=cv.action(row), meets_filter=True)


class RunService(rsc.RunService):
    def __init__(self, runs: Runs) -> None:
        self.runs = runs
        self.box = runs.box

    async def create_run(self, request: rs.CreateRunRequest, ctx: RequestContext) -> rs.CreateRunResponse:
        return rs.CreateRunResponse(run=await self.runs.create_run(request))

    async def abort_run(self, request: rs.AbortRunRequest, ctx: RequestContext) -> rs.AbortRunResponse:
        self.runs.abort_run(cv.run_key(request.run_id), request.reason)
        return rs.AbortRunResponse()

    async def get_run_details(self, request: rs.GetRunDetailsRequest, ctx: RequestContext) -> rs.GetRunDetailsResponse:
        return rs.GetRunDetailsResponse(details=self.runs.details(cv.run_key(request.run_id)))

    async def watch_run_details(
        self, request: rs.WatchRunDetailsRequest, ctx: RequestContext
    ) -> AsyncIterator[rs.WatchRunDetailsResponse]:
        key = cv.run_key(request.run_id)
        self.runs.details(key)
        async for details in self.runs.watch_action(key, ROOT, lambda _row: self.runs.details(key)):
            yield rs.WatchRunDetailsResponse(details=details)

    async def get_action_details(
        self, request: rs.GetActionDetailsRequest, ctx: RequestContext
    ) -> rs.GetActionDetailsResponse:
        row = self.runs.get_row(*cv.action_key(request.action_id))
        return rs.GetActionDetailsResponse(details=cv.action_details(row, self.box.store.attempts(row)))

    async def watch_action_details(
        self, request: rs.WatchActionDetailsRequest, ctx: RequestContext
    ) -> AsyncIterator[rs.WatchActionDetailsResponse]:
        key, name = cv.action_key(request.action_id)
        async for d in self.runs.watch_action(key, name, lambda r: cv.action_details(r, self.box.store.attempts(r))):
            yield rs.WatchActionDetailsResponse(details=d)

    async def get_action_data(self, request: rs.GetActionDataRequest, ctx: RequestContext) -> rs.GetActionDataResponse:
        row = self.runs.get_row(*cv.action_key(request.action_id))
        inputs, outputs = await action_data(self.box.data, row)
        return rs.GetActionDataResponse(inputs=inputs, outputs=outputs)

    async def get_action_data_u_r_is(
        self, request: rs.GetActionDataURIsRequest, ctx: RequestContext
    ) -> rs.GetActionDataURIsResponse:
        row = self.runs.get_row(*cv.action_key(request.action_id))
        out = self.box.data.join(row.output_uri, "outputs.pb") if row.output_uri else ""
        return rs.GetActionDataURIsResponse(inputs_uri=row.input_uri, outputs_uri=out)

    async def list_runs(self, request: rs.ListRunsRequest, ctx: RequestContext) -> rs.ListRunsResponse:
        which = request.WhichOneof("scope_by")
        project = domain = None
        org = org_of(request.org)
        if which == "project_id":
            org = org_of(request.project_id.organization)
            project, domain = request.project_id.name or None, request.project_id.domain or None
        elif which in ("task_name", "task_id", "trigger_name"):
            fail(Code.UNIMPLEMENTED, f"listing runs by {which} is not supported by the devbox")
        limit, offset = page(request.request)
        filters = request.request.filters
        if not filters:
            keys = self.box.store.list_runs(org, project, domain, limit + 1, offset)
            roots = [r for r in (self.box.store.get_action(k, ROOT) for k in keys) if r is not None]
            runs = [rd.Run(action=cv.action(r)) for r in roots[:limit]]
            return rs.ListRunsResponse(runs=runs, token=str(offset + limit) if len(keys) > limit else "")
        matching = []
        for key in self.box.store.list_runs(org, project, domain, -1, 0):
            root = self.box.store.get_action(key, ROOT)
            if root is not None and all(_matches(root, f) for f in filters):
                matching.append(root)
        chunk = matching[offset : offset + limit]
        token = str(offset + limit) if len(matching) > offset + limit else ""
        return rs.ListRunsResponse(runs=[rd.Run(action=cv.action(r)) for r in chunk], token=token)

    async def list_actions(self, request: rs.ListActionsRequest, ctx: RequestContext) -> rs.ListActionsResponse:
        key = cv.run_key(request.run_id)
        if self.box.store.get_run(key) is None:
            fail(Code.NOT_FOUND, f"run {key} not found")
        limit, offset = page(request.request)
        rows = self.box.store.run_actions(key)
        chunk = rows[offset : offset + limit]
        token = str(offset + limit) if len(rows) > offset + limit else ""
        return rs.ListActionsResponse(actions=[cv.action(r) for r in chunk], token=token)

    async def watch_actions(
        self, request: rs.WatchActionsRequest, ctx: RequestContext
    ) -> AsyncIterator[rs.WatchActionsResponse]:
        key = cv.run_key(request.run_id)
        if self.box.store.get_run(key) is None:
            fail(Code.NOT_FOUND, f"run {key} not found")
        q = self.box.bus.subscribe(key)
        try:
            rows = self.box.store.run_actions(key)
            sent = {r.name: r.version for r in rows}
            yield rs.WatchActionsResponse(enriched_actions=[_enriched(r) for r in rows])
            root_done = any(r.name == ROOT and r.terminal for r in rows)
            while not root_done:
                row = await q.get()
                if row is None:
                    return
                if sent.get(row.name, -1) >= row.version:
                    continue
                batch = [row]
                while not q.empty():  # coalesce bursts into one message
                    nxt = q.get_nowait()
                    if nxt is None:
                        return
                    if sent.get(nxt.name, -1) < nxt.version:
                        batch.append(nxt)
                for r in batch:
                    sent[r.name] = r.version
                    root_done = root_done or (r.name == ROOT and r.terminal)
                yield rs.WatchActionsResponse(enriched_actions=[_enriched(r) for r in batch])
        finally:
            self.box.bus.unsubscribe(key, q)

    async def abort_action(self, request: rs.AbortActionRequest, ctx: RequestContext) -> rs.AbortActionResponse:
        row = self.runs.get_row(*cv.action_key(request.action_id))
        self.box.abort(row, request.reason or "aborted by user")
        return rs.AbortActionResponse()


def _phase_value(v: str) -> int:
    if v.lstrip("-").isdigit():
        return int(v)
    name = v.upper()
    try:
        return int(phase_pb2.ActionPhase.Value(name if name.startswith("ACTION_PHASE_") else "ACTION_PHASE_" + name))
    except ValueError:
        fail(Code.INVALID_ARGUMENT, f"filter value '{v}' is not an action phase")


def _matches(root: ActionRow, f: Any) -> bool:
    """ListRuns filters on phase, task_name and task_version (what the official client sends)."""
    from flyteidl2.common import list_pb2

    fn = list_pb2.Filter
    if f.field == "phase":
        got = root.phase
        want = {_phase_value(v) for v in f.values}
    elif f.field in ("task_name", "task_version"):
        tid = task_definition_pb2.TaskIdentifier.FromString(root.task_id) if root.task_id else None
        spec = task_definition_pb2.TaskSpec.FromString(root.spec or b"")
        if f.field == "task_name":
            names = {spec.task_template.id.name, spec.short_name} | ({tid.name} if tid else set())
            return bool(names & set(f.values)) == (f.function in (fn.EQUAL, fn.VALUE_IN))
        got_v = tid.version if tid else spec.task_template.id.version
        return (got_v in set(f.values)) == (f.function in (fn.EQUAL, fn.VALUE_IN))
    else:
        fail(Code.UNIMPLEMENTED, f"filtering runs on '{f.field}' is not supported by the devbox")
    if f.function in (fn.EQUAL, fn.VALUE_IN):
        return got in want
    if f.function in (fn.NOT_EQUAL, fn.VALUE_NOT_IN):
        return got not in want
    fail(Code.UNIMPLEMENTED, f"filter function {fn.Function.Name(f.function)} on '{f.field}' is not supported")


def page(req: Any) -> tuple[int, int]:
    limit = req.limit or 100
    if limit > 1000:
        limit = 1000
    try:
        offset = int(req.token) if req.token else 0
    except ValueError:
        fail(Code.INVALID_ARGUMENT, f"request.token '{req.token}' is not a token this devbox issued")
    return limit, max(0, offset)


async def action_data(data: DataStore, row: ActionRow) -> tuple[common_pb2.Inputs, common_pb2.Outputs]:
    inputs = common_pb2.Inputs()
    if row.input_uri and await data.exists(row.input_uri):
        await read_pb(data, row.input_uri, inputs, "inputs")
    outputs = common_pb2.Outputs()
    if row.phase == phase_pb2.ACTION_PHASE_SUCCEEDED and row.output_uri:
        out = data.join(row.output_uri, "outputs.pb")
        if await data.exists(out):
            await read_pb(data, out, outputs, "outputs")
    return inputs, outputs


class ActionsService(asc.ActionsService):
    def __init__(self, runs: Runs) -> None:
        self.runs = runs

    async def enqueue(self, request: asp.EnqueueRequest, ctx: RequestContext) -> asp.EnqueueResponse:
        a = request.action
        row = self.runs.child_row(a, a.parent_action_name, request.run_spec)
        self.runs.box.enqueue(row)
        return asp.EnqueueResponse()

    async def watch_for_updates(
        self, request: asp.WatchForUpdatesRequest, ctx: RequestContext
    ) -> AsyncIterator[asp.WatchForUpdatesResponse]:
        require(request.HasField("parent_action_id"), "parent_action_id")
        key, name = cv.action_key(request.parent_action_id, "parent_action_id")
        async for msg in self.runs.watch_children(key, name, asp.WatchForUpdatesResponse):
            yield msg

    async def update(self, request: asp.UpdateRequest, ctx: RequestContext) -> asp.UpdateResponse:
        self.runs.get_row(*cv.action_key(request.action_id))
        return asp.UpdateResponse()

    async def abort(self, request: asp.AbortRequest, ctx: RequestContext) -> asp.AbortResponse:
        row = self.runs.get_row(*cv.action_key(request.action_id))
        self.runs.box.abort(row, request.reason or "aborted")
        return asp.AbortResponse()


class QueueService(qsc.QueueService):
    def __init__(self, runs: Runs) -> None:
        self.runs = runs

    async def enqueue_action(self, request: qsp.EnqueueActionRequest, ctx: RequestContext) -> qsp.EnqueueActionResponse:
        row = self.runs.child_row(request, request.parent_action_name, request.run_spec)
        self.runs.box.enqueue(row)
        return qsp.EnqueueActionResponse()

    async def abort_queued_run(
        self, request: qsp.AbortQueuedRunRequest, ctx: RequestContext
    ) -> qsp.AbortQueuedRunResponse:
        self.runs.abort_run(cv.run_key(request.run_id), request.reason)
        return qsp.AbortQueuedRunResponse()

    async def abort_queued_action(
        self, request: qsp.AbortQueuedActionRequest, ctx: RequestContext
    ) -> qsp.AbortQueuedActionResponse:
        row = self.runs.get_row(*cv.action_key(request.action_id))
        self.runs.box.abort(row, request.reason or "aborted")
        return qsp.AbortQueuedActionResponse()


class StateService(ssc.StateService):
    def __init__(self, runs: Runs) -> None:
        self.runs = runs

    async def put(self, request: ss.PutRequest, ctx: RequestContext) -> ss.PutResponse:
        key, name = cv.action_key(request.action_id)
        self.runs.box.store.kv_set(f"state:{key}/{name}", request.state)
        return ss.PutResponse(action_id=request.action_id)

    async def get(self, request: ss.GetRequest, ctx: RequestContext) -> ss.GetResponse:
        key, name = cv.action_key(request.action_id)
        state = self.runs.box.store.kv_get(f"state:{key}/{name}")
        if state is None:
            fail(Code.NOT_FOUND, f"no state stored for action {name} of run {key}")
        return ss.GetResponse(action_id=request.action_id, state=state)

    async def watch(self, request: ss.WatchRequest, ctx: RequestContext) -> AsyncIterator[ss.WatchResponse]:
        require(request.HasField("parent_action_id"), "parent_action_id")
        key, name = cv.action_key(request.parent_action_id, "parent_action_id")
        async for msg in self.runs.watch_children(key, name, ss.WatchResponse):
            yield msg
