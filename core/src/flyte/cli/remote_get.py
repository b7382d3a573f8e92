"""``flyte get projects|tasks|logs|secret`` and the control-plane side of ``flyte get runs|run``.

``get runs`` and ``get run`` (cli/get.py) call :func:`remote_runs` / :func:`remote_run` when an endpoint
is configured and no ``--run-base-dir`` is given; otherwise they show local runs as before.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from flyte.cli.remote import (
    TERMINAL_PHASES,
    call,
    output_option,
    phase_cell,
    scope,
    scope_options,
    table,
    to_json,
    took,
    when,
)
from flyte.remote.names import phase_name


def use_remote(run_base_dir: str | None = None) -> bool:
    """True when ``get runs``/``get run`` should ask the control plane instead of local records."""
    from flyte.config import is_remote_configured

    return run_base_dir is None and is_remote_configured()


def _run_id(name: str) -> Any:
    from flyteidl2.common import identifier_pb2 as ci

    org, project, domain = scope()
    return ci.RunIdentifier(org=org, project=project, domain=domain, name=name)


def remote_runs(limit: int, output: str) -> None:
    """List the runs of the configured project/domain on the control plane, newest first."""
    from flyteidl2.common import identifier_pb2 as ci
    from flyteidl2.common import list_pb2
    from flyteidl2.workflow import run_service_pb2 as rs

    org, project, domain = scope()
    req = rs.ListRunsRequest(
        request=list_pb2.ListRequest(limit=limit), org=org,
        project_id=ci.ProjectIdentifier(organization=org, name=project, domain=domain),
    )

    async def fetch(client: Any) -> Any:
        return await client.run.ListRuns(req)

    resp = call(fetch)
    runs = list(resp.runs)
    if not runs:
        _require_project(org, project)
    if resp.token:
        # on stderr: what is piped stays a clean listing
        click.echo(f"Showing the newest {len(runs)} runs; more exist (--limit {limit * 2} shows more).", err=True)
    if output == "json":
        click.echo(to_json(runs))
        return
    rows = [[r.action.id.run.name, r.action.metadata.task.id.name or "-", phase_cell(r.action.status.phase),
             when(r.action.status.start_time), took(r.action.status.start_time, r.action.status.end_time)]
            for r in runs]
    table(f"runs in {project}/{domain}", ["name", "task", "phase", "started", "duration"], rows,
          wrap=("task", "started"))


def _require_project(org: str, project: str) -> None:
    """An empty listing of a project that does not exist is a mistyped name, not "no runs": say so."""
    from flyteidl2.project import project_service_pb2 as ps

    async def get(client: Any) -> Any:
        try:
            return await client.project.GetProject(ps.GetProjectRequest(id=project, org=org))
        except Exception as e:  # AdminError carries the status name; a raw grpc error a StatusCode
            code = getattr(e, "code", None)
            code = code() if callable(code) else code
            if getattr(code, "name", code) == "NOT_FOUND":
                return None
            raise

    if call(get) is None:
        raise click.ClickException(
            f"Project {project!r} does not exist on this control plane. `flyte get projects` lists them; "
            f"`flyte create project --id {project}` creates it.")


def _literal_text(lit: Any) -> str:
    """A literal in one line: primitives as themselves, anything else as compact JSON (cut at 200 chars)."""
    import json

    from google.protobuf.json_format import MessageToDict

    if lit.HasField("scalar") and lit.scalar.HasField("primitive"):
        prim = lit.scalar.primitive
        kind = prim.WhichOneof("value")
        if kind is not None:
            return repr(getattr(prim, kind)) if kind == "string_value" else str(getattr(prim, kind))
    text = json.dumps(MessageToDict(lit), separators=(",", ":"))
    return text if len(text) <= 200 else text[:197] + "..."


def remote_action(name: str, action: str, output: str) -> None:
    """One action of a run on the control plane in full: state, error, inputs and outputs."""
    from flyteidl2.common import identifier_pb2 as ci
    from flyteidl2.workflow import run_service_pb2 as rs

    action_id = ci.ActionIdentifier(run=_run_id(name), name=action)

    async def fetch(client: Any) -> tuple[Any, Any]:
        details = await client.run.GetActionDetails(rs.GetActionDetailsRequest(action_id=action_id))
        data = await client.run.GetActionData(rs.GetActionDataRequest(action_id=action_id))
        return details.details, data

    details, data = call(fetch)
    if output == "json":
        import json

        from google.protobuf.json_format import MessageToDict

        click.echo(json.dumps(dict(MessageToDict(details), inputs=MessageToDict(data.inputs),
                                   outputs=MessageToDict(data.outputs)), indent=2))
        return
    st = details.status
    click.echo(f"{name} {action}  task {details.metadata.task.id.name or '-'}  {phase_name(st.phase)}  "
               f"attempts {st.attempts}  started {when(st.start_time)}  took {took(st.start_time, st.end_time)}")
    if details.HasField("error_info") and details.error_info.message:
        click.echo(f"error: {details.error_info.message}")
    if details.HasField("abort_info") and details.abort_info.reason:
        click.echo(f"aborted: {details.abort_info.reason}")
    for title, lits in (("inputs", data.inputs.literals), ("outputs", data.outputs.literals)):
        if lits:
            click.echo(f"{title}:")
            for lit in lits:
                click.echo(f"  {lit.name} = {_literal_text(lit.value)}")


class _GiveUp:
    """``on_reconnect`` of a watch: after ``FLYTE_REMOTE_LOST_AFTER`` (30) seconds of reconnecting without an
    answer, stop with one line instead of waiting forever for a control plane that is gone."""

    def __init__(self) -> None:
        import os

        self.limit = float(os.environ.get("FLYTE_REMOTE_LOST_AFTER") or 30.0)
        self.since: float | None = None

    def __call__(self, _reconnects: int) -> None:
        import time

        from flyte.admin import AdminError

        now = time.monotonic()
        if self.since is None:
            self.since = now
        elif now - self.since > self.limit:
            raise AdminError(f"lost contact with the control plane: no answer for {self.limit:.0f}s "
                             "(the run may go on there)", code="UNAVAILABLE")

    def answered(self) -> None:
        self.since = None


def remote_run(name: str, output: str, *, watch: bool = False, action: str | None = None,
               phases: tuple[str, ...] = (), limit: int = 200) -> None:
    """Show one run on the control plane; ``watch``: first follow its phase until it ends; ``action``: that
    action in full; ``phases``/``limit``: which actions are listed (as for local runs)."""
    from flyteidl2.common import list_pb2
    from flyteidl2.workflow import run_service_pb2 as rs

    run_id = _run_id(name)
    if action is not None and not watch:
        remote_action(name, action, output)
        return

    async def fetch(client: Any) -> tuple[Any, list[Any]]:
        if watch:
            # WatchRunDetails resumes after a dropped connection; every phase change is one line (stderr
            # with -o json, so the document on stdout stays clean).
            req = rs.WatchRunDetailsRequest(run_id=run_id)
            give_up = _GiveUp()
            async for update in client.watch(client.run.WatchRunDetails, req, on_reconnect=give_up):
                give_up.answered()
                st = update.details.action.status
                click.echo(f"{when(st.start_time)}  {phase_name(st.phase)}"
                           f"  attempt {st.attempts}", err=output == "json")
                if phase_name(st.phase) in TERMINAL_PHASES:
                    break
        details = await client.run.GetRunDetails(rs.GetRunDetailsRequest(run_id=run_id))
        actions = await client.run.ListActions(rs.ListActionsRequest(run_id=run_id,
                                                                     request=list_pb2.ListRequest(limit=limit)))
        return details.details, list(actions.actions)

    details, actions = call(fetch)
    if action is not None:  # --watch --action: the run has ended, now show that action
        remote_action(name, action, output)
        return
    if phases:
        wanted = {p.upper() for p in phases} | ({"TIMED_OUT"} if "failed" in phases else set())
        actions = [x for x in actions if phase_name(x.status.phase) in wanted]
    if output == "json":
        import json

        from google.protobuf.json_format import MessageToDict

        click.echo(json.dumps(dict(MessageToDict(details), actions=[MessageToDict(x) for x in actions]), indent=2))
        return
    a = details.action
    click.echo(f"{a.id.run.name}  task {a.metadata.task.id.name or '-'}  {phase_name(a.status.phase)}  "
               f"attempts {a.status.attempts}  started {when(a.status.start_time)}  "
               f"took {took(a.status.start_time, a.status.end_time)}")
    if a.HasField("error_info") and a.error_info.message:
        click.echo(f"error: {a.error_info.message}")
    if a.HasField("abort_info") and a.abort_info.reason:
        click.echo(f"aborted: {a.abort_info.reason}")
    if actions:
        click.echo("")
        table("actions", ["action", "task", "parent", "phase", "tries", "took"],
              [[x.id.name, x.metadata.task.id.name or "-", x.metadata.parent or "-", phase_cell(x.status.phase),
                str(x.status.attempts), took(x.status.start_time, x.status.end_time)] for x in actions],
              wrap=("task",))


@click.command("projects")
@output_option
def get_projects(output: str) -> None:
    """List the projects on the control plane."""
    from flyteidl2.project import project_service_pb2 as pb

    from flyte.cli.remote import settings

    org = settings().org or ""

    async def fetch(client: Any) -> Any:
        return await client.project.ListProjects(pb.ListProjectsRequest(limit=500, org=org))

    projects = list(call(fetch).projects.projects)
    if output == "json":
        click.echo(to_json(projects))
        return
    table("projects", ["id", "name", "domains", "description"],
          [[p.id, p.name, ", ".join(d.id for d in p.domains), p.description] for p in projects],
          wrap=("domains", "description"))


@click.command("tasks")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@scope_options
@output_option
def get_tasks(limit: int, project: str | None, domain: str | None, output: str) -> None:
    """List the tasks deployed in a project and domain."""
    from flyteidl2.common import identifier_pb2 as ci
    from flyteidl2.common import list_pb2
    from flyteidl2.task import task_service_pb2 as ts

    org, p, d = scope(project, domain)
    req = ts.ListTasksRequest(request=list_pb2.ListRequest(limit=limit), org=org,
                              project_id=ci.ProjectIdentifier(organization=org, name=p, domain=d))

    async def fetch(client: Any) -> Any:
        return await client.task.ListTasks(req)

    tasks = list(call(fetch).tasks)
    if output == "json":
        click.echo(to_json(tasks))
        return
    table(f"tasks in {p}/{d}", ["name", "version", "deployed"],
          [[t.task_id.name, t.task_id.version, when(t.metadata.deployed_at)] for t in tasks])


@click.command("logs")
@click.argument("name")
@click.option("--action", default="a0", show_default=True, help="Action in the run (a0 is the run's root).")
@click.option("--attempt", type=click.IntRange(min=0), default=0, help="Attempt number (default: the latest).")
@click.option("--follow", "-f", is_flag=True, help="Keep streaming until the action ends (resumes after drops).")
@scope_options
def get_logs(name: str, action: str, attempt: int, follow: bool, project: str | None, domain: str | None) -> None:
    """Print the logs of a run's action (its root by default) from the control plane."""
    from flyteidl2.common import identifier_pb2 as ci
    from flyteidl2.dataproxy import dataproxy_service_pb2 as dp
    from flyteidl2.workflow import run_service_pb2 as rs

    org, p, d = scope(project, domain)
    run_id = ci.RunIdentifier(org=org, project=p, domain=d, name=name)
    action_id = ci.ActionIdentifier(run=run_id, name=action)

    printed = 0

    async def stream(client: Any) -> None:
        nonlocal printed
        n = attempt
        if not n:
            details = await client.run.GetActionDetails(rs.GetActionDetailsRequest(action_id=action_id))
            n = details.details.status.attempts or 1
            if phase_name(details.details.status.phase) in TERMINAL_PHASES:
                nonlocal follow
                follow = True  # a finished action's stream ends by itself: read it all
        req = dp.TailLogsRequest(action_id=action_id, attempt=n)
        give_up = _GiveUp()
        it = client.watch(client.dataproxy.TailLogs, req, on_reconnect=give_up).__aiter__()
        while True:
            try:
                # Without --follow, stop once the server has nothing more to say for a moment.
                resp = await (it.__anext__() if follow else asyncio.wait_for(it.__anext__(), 2.0))
            except (StopAsyncIteration, TimeoutError):
                return
            give_up.answered()
            for logs in resp.logs:
                for line in logs.lines:
                    click.echo(line.message)
                    printed += 1

    call(stream)
    if not printed:  # on stderr: a piped listing stays empty
        click.echo(f"No log lines for action {action} of run {name} (`flyte get run {name}` shows its state and "
                   "error).", err=True)


@click.command("secret")
@click.argument("name", required=False)
@click.option("--project", "-p", default=None, help="Only secrets scoped to this project.")
@click.option("--domain", "-d", default=None, help="Only secrets scoped to this domain.")
@output_option
def get_secret(name: str | None, project: str | None, domain: str | None, output: str) -> None:
    """List secrets, or show one (its metadata: values are never shown)."""
    from flyteidl2.secret import definition_pb2 as sd
    from flyteidl2.secret import payload_pb2 as sp

    from flyte.cli.remote import settings

    org = settings().org or ""

    async def fetch(client: Any) -> list[Any]:
        if name:
            sid = sd.SecretIdentifier(name=name, organization=org, project=project or "", domain=domain or "")
            return [(await client.secret.GetSecret(sp.GetSecretRequest(id=sid))).secret]
        resp = await client.secret.ListSecrets(sp.ListSecretsRequest(organization=org, project=project or "",
                                                                     domain=domain or "", limit=500))
        return list(resp.secrets)

    secrets = call(fetch)
    if output == "json":
        click.echo(to_json(secrets))
        return
    table("secrets", ["name", "project", "domain", "created"],
          [[s.id.name, s.id.project or "-", s.id.domain or "-", when(s.secret_metadata.created_time)]
           for s in secrets])


def register(group: click.Group) -> None:
    """Add the control-plane subcommands to ``flyte get``."""
    for cmd in (get_projects, get_tasks, get_logs, get_secret):
        if cmd.name not in group.commands:
            group.add_command(cmd)
