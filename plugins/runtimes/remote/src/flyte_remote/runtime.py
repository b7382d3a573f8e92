"""The ``remote`` runtime: submit a run to a Flyte 2 control plane and follow it.

``submit`` bundles the program's folder, uploads it through DataProxy, uploads the inputs
(``UploadInputs``) and creates the run with the TaskSpec inline (``CreateRun``), then returns a
:class:`RemoteRunHandle` at once: the run goes on on the control plane. ``wait()`` follows it
(``WatchRunDetails``), ``outputs()`` fetches and decodes its outputs, ``abort()`` aborts it.

The admin client is bound to the event loop it was made in, and the sync API (``run.wait()``)
runs each call in a fresh loop, so the handle keeps the connection *settings* and connects
per call (connecting costs no round trip).
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any, ClassVar

from flyte.runtime import ActionOutputs, Phase, RunHandle, RunOptions, Runtime

from flyte_remote.submit import Submission, phase_of, submit_run

if TYPE_CHECKING:
    from flyte import TaskTemplate
    from flyte.remote.connection import Target


class RemoteRunHandle(RunHandle):
    """A run on a control plane: ``name``, ``phase`` (as last seen), ``url``, wait/outputs/abort."""

    def __init__(self, name: str, target: Target, task: TaskTemplate[Any, Any], phase: Phase = Phase.QUEUED) -> None:
        self.name = name
        self.target = target
        self.task = task
        self._phase = phase
        self.error: BaseException | None = None
        self._outputs: ActionOutputs | None = None
        self.submitted_at = time.time()
        self._checked = time.monotonic()

    @property
    def phase(self) -> Phase:
        """The run's phase: asked from the control plane (at most once a second) until it has ended."""
        if not self._phase.terminal and time.monotonic() - self._checked > 1.0:
            self._checked = time.monotonic()
            with contextlib.suppress(Exception):  # the last phase seen is true enough; wait() reports trouble
                self.refresh()
        return self._phase

    @property
    def url(self) -> str:
        return self.target.run_url(self.name)

    def run_id(self) -> Any:
        from flyteidl2.common import identifier_pb2

        t = self.target
        return identifier_pb2.RunIdentifier(org=t.org, project=t.project, domain=t.domain, name=self.name)

    async def _client(self) -> Any:
        from flyte.admin import connect

        return await connect(self.target.settings)

    def _take(self, details: Any) -> None:
        """Note the phase (and the error of a failed run) from a ``RunDetails``."""
        from flyte.remote.io import exception_from
        from flyteidl2.core import execution_pb2

        self._phase = phase_of(details.action.status.phase)
        if self._phase in (Phase.FAILED, Phase.TIMED_OUT, Phase.ABORTED) and self.error is None:
            ei = details.action.error_info
            if self._phase == Phase.ABORTED:
                reason = details.action.abort_info.reason or "aborted"
                err = execution_pb2.ExecutionError(code="Aborted", message=reason)
            else:
                err = execution_pb2.ExecutionError(code=ei.code, message=ei.message)
            self.error = exception_from(err, task=self.task.name, action=f"{self.name}/a0", phase=self._phase.value)

    async def refresh_async(self) -> Phase:
        """Ask the control plane for the run's phase now."""
        from flyteidl2.workflow import run_service_pb2 as rs

        async with await self._client() as client:
            resp = await client.run.GetRunDetails(rs.GetRunDetailsRequest(run_id=self.run_id()))
        self._take(resp.details)
        return self._phase

    def refresh(self) -> Phase:
        """Sync form of :meth:`refresh_async`."""
        from flyte.syncify import syncify

        return syncify(self.refresh_async)()

    #: Seconds without an answer from the control plane after which following a run gives up
    #: (``FLYTE_REMOTE_LOST_AFTER``); a control plane back within it is resumed as if nothing happened.
    lost_after: ClassVar[float] = 30.0

    def _lost(self, why: str) -> Exception:
        from flyte.admin import AdminError

        return AdminError(
            f"lost contact with the control plane at {self.target.settings.endpoint} while following run "
            f"{self.name} ({why}); the run may go on there", code="UNAVAILABLE")

    async def watch_async(self) -> Any:
        """Yield each ``RunDetails`` of the run until it ends (resumes after a dropped connection or a
        restarted control plane; raises :class:`flyte.admin.AdminError` after ``lost_after`` seconds
        without an answer)."""
        import asyncio
        import os

        from flyteidl2.workflow import run_service_pb2 as rs

        limit = float(os.environ.get("FLYTE_REMOTE_LOST_AFTER") or self.lost_after)
        silent_since: list[float | None] = [None]  # when reconnecting started, since the last message

        def on_reconnect(_n: int) -> None:
            now = time.monotonic()
            if silent_since[0] is None:
                silent_since[0] = now
            elif now - silent_since[0] > limit:
                raise self._lost(f"no answer for {limit:.0f}s")

        async with await self._client() as client:
            while True:
                async for resp in client.watch(client.run.WatchRunDetails,
                                               rs.WatchRunDetailsRequest(run_id=self.run_id()),
                                               on_reconnect=on_reconnect):
                    silent_since[0] = None
                    self._take(resp.details)
                    yield resp.details
                    if self._phase.terminal:
                        return
                # The stream ended before the run did (a control plane shutting down): watch again.
                on_reconnect(0)
                await asyncio.sleep(0.5)

    async def wait_async(self) -> None:
        if not self._phase.terminal:
            async for _ in self.watch_async():
                pass
        if self.error is not None:
            raise self.error

    async def outputs_async(self) -> ActionOutputs:
        await self.wait_async()
        if self._outputs is None:
            from flyte.types.interface import literals_to_outputs
            from flyteidl2.common import identifier_pb2
            from flyteidl2.workflow import run_service_pb2 as rs

            aid = identifier_pb2.ActionIdentifier(run=self.run_id(), name="a0")
            async with await self._client() as client:
                resp = await client.run.GetActionData(rs.GetActionDataRequest(action_id=aid))
            lits = {nl.name: nl.value for nl in resp.outputs.literals}
            iface = self.task.interface
            value = await literals_to_outputs(iface, lits) if iface.outputs else None
            self._outputs = ActionOutputs.of(value, list(iface.outputs))
        return self._outputs

    async def logs_async(self, action: str = "a0", idle: float = 2.0) -> str:
        """The logs of an action's latest attempt (the root's by default), as far as they go now."""
        import asyncio

        from flyteidl2.common import identifier_pb2
        from flyteidl2.dataproxy import dataproxy_service_pb2 as dp
        from flyteidl2.workflow import run_service_pb2 as rs

        aid = identifier_pb2.ActionIdentifier(run=self.run_id(), name=action)
        lines: list[str] = []
        async with await self._client() as client:
            details = await client.run.GetActionDetails(rs.GetActionDetailsRequest(action_id=aid))
            attempt = details.details.status.attempts or 1
            it = client.watch(client.dataproxy.TailLogs, dp.TailLogsRequest(action_id=aid, attempt=attempt)).__aiter__()
            while True:
                try:
                    resp = await asyncio.wait_for(it.__anext__(), idle)
                except (StopAsyncIteration, TimeoutError):
                    break
                lines.extend(line.message for logs in resp.logs for line in logs.lines)
        return "\n".join(lines)

    def logs(self) -> str:
        """Sync form of :meth:`logs_async` for the root action."""
        from flyte.syncify import syncify

        return syncify(self.logs_async)()

    async def abort_async(self, reason: str = "aborted by user") -> None:
        from flyteidl2.workflow import run_service_pb2 as rs

        async with await self._client() as client:
            await client.run.AbortRun(rs.AbortRunRequest(run_id=self.run_id(), reason=reason))

    def __repr__(self) -> str:
        return f"<RemoteRunHandle {self.name} {self._phase.value} {self.url}>"


class RemoteRuntime(Runtime):
    """Runs tasks on the configured Flyte 2 control plane (``admin.endpoint`` / ``flyte.init(endpoint=...)``)."""

    name: ClassVar[str] = "remote"
    description: ClassVar[str] = "runs on a Flyte 2 control plane (a cluster, or flyte-devbox)"
    #: flyte.run(flyte.remote.Task.get(...)) works with this runtime
    runs_deployed_tasks: ClassVar[bool] = True
    run_options: ClassVar[frozenset[str]] = frozenset({"interruptible", "queue", "version", "copy_style", "images"})

    @staticmethod
    def cli_execute(task: TaskTemplate[Any, Any], kwargs: dict[str, Any], opts: dict[str, Any]) -> int:
        """``flyte run`` with this runtime: submit, show, follow, print outputs (flyte_remote.cli)."""
        from flyte_remote.cli import cli_execute

        return cli_execute(task, kwargs, opts)

    @staticmethod
    def cli_deploy(modules: list[Any], path: str, opts: dict[str, Any]) -> int:
        """``flyte deploy``: every task of the environments in ``modules`` (flyte_remote.deploy_cli)."""
        from flyte_remote.deploy_cli import cli_deploy

        return cli_deploy(modules, path, opts)

    @staticmethod
    def cli_run_deployed(task: Any, kwargs: dict[str, Any], opts: dict[str, Any]) -> int:
        """``flyte run deployed-task``: run a :class:`flyte.remote.Task` by its id (flyte_remote.deploy_cli)."""
        from flyte_remote.deploy_cli import cli_run_deployed

        return cli_run_deployed(task, kwargs, opts)

    async def submit(
        self,
        task: TaskTemplate[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: RunOptions,
    ) -> RunHandle:
        from flyte.remote.connection import target

        t = target(options.project, options.domain)
        if getattr(task, "deployed", False):  # a flyte.remote.Task: run by id (flyte_remote.deploy)
            from flyte_remote.deploy import submit_deployed

            sub: Submission = await submit_deployed(task, args, kwargs, options, t)  # type: ignore[arg-type]
            return RemoteRunHandle(sub.name, t, task, sub.phase)
        sub = await submit_run(task, args, kwargs, options, t)
        return RemoteRunHandle(sub.name, t, task, sub.phase)
