"""The worker's controller: each task call of a running body becomes a child action on the control plane.

A call ``await child(x)`` inside an action's body: the inputs become literals and are written to
``<run base>/<child name>/inputs.pb``; the child is enqueued with its TaskSpec inline through
``ActionsService.Enqueue`` (``QueueService.EnqueueAction`` when the backend does not set
``_U_USE_ACTIONS``); its outcome arrives on the ONE ``WatchForUpdates`` (``StateService.Watch``)
stream this controller holds for its parent, and the outputs are read from the update's
``output_uri``. Names are deterministic (:mod:`flyte.remote.names`), so a retried parent finds
children that already finished in the watch's first snapshot and takes their outputs.
A call that is cancelled (the parent timed out, was aborted, or a sibling in a gather failed)
aborts its child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from flyte import _context
from flyte._controller import Controller
from flyte.errors import FlyteError
from flyte.remote import io, names
from flyte.remote.names import phase_name
from flyte.remote.spec import SpecContext, task_spec
from flyte.types.interface import default_inputs, inputs_to_literals, literals_to_outputs

if TYPE_CHECKING:
    from flyte._context import TaskContext
    from flyte._task import TaskTemplate
    from flyte.admin import AdminClient

logger = logging.getLogger("flyte.remote")

_TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}


class ControlPlaneError(FlyteError):
    """Launching or watching a child action failed on the control plane's side: a system error, not the user's."""


def _already_exists(e: BaseException) -> bool:
    """A control plane that refuses to enqueue a name twice (gRPC ALREADY_EXISTS): the child is there already."""
    code = getattr(e, "code", None)
    status = code() if callable(code) else code
    return getattr(status, "name", status) == "ALREADY_EXISTS"


class ActionsController(Controller):
    """Children of one action (``parent``) as child actions of the same run. See the module docstring."""

    def __init__(
        self,
        client: AdminClient | Callable[[], Awaitable[AdminClient]],
        *,
        org: str,
        project: str,
        domain: str,
        run_name: str,
        parent: str,
        run_base_dir: str,
        spec_context: SpecContext,
        use_actions: bool = True,
    ) -> None:
        # A factory is called on the first child call: leaf actions never load the transport.
        self._factory = None if hasattr(client, "actions") else client
        self.client: Any = client if self._factory is None else None
        self._connecting: asyncio.Lock | None = None
        self.org, self.project, self.domain, self.run_name = org, project, domain, run_name
        self.parent = parent
        self.run_base_dir = run_base_dir
        self.spec_context = spec_context
        self.use_actions = use_actions
        self.runner: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._specs: dict[int, Any] = {}
        self._seq: dict[tuple[str, str], int] = defaultdict(int)
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._done: dict[str, Any] = {}  # terminal updates of children nobody waits for (yet)
        self._watch: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()
        self._watch_error: BaseException | None = None

    # -- Controller ---------------------------------------------------------------------

    async def submit(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return await self._submit(task, args, kwargs, _context._current.get())

    def submit_sync(self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        parent = _context._current.get()
        coro = self._submit(task, args, kwargs, parent)
        if self.runner is not None:
            return self.runner.run_blocking(coro)
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def run_blocking(self, coro: Any) -> Any:
        """Run ``coro`` on the action's loop from a sync body's thread and wait (``flyte.map`` in sync code)."""
        if self.runner is not None:
            return self.runner.run_blocking(coro)
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    # -- ids ------------------------------------------------------------------------------

    def _run_id(self) -> Any:
        from flyteidl2.common import identifier_pb2

        return identifier_pb2.RunIdentifier(org=self.org, project=self.project, domain=self.domain,
                                            name=self.run_name)

    def _action_id(self, name: str) -> Any:
        from flyteidl2.common import identifier_pb2

        return identifier_pb2.ActionIdentifier(run=self._run_id(), name=name)

    # -- the watch ------------------------------------------------------------------------

    async def _ensure_watch(self) -> None:
        if self.client is None:
            if self._connecting is None:
                self._connecting = asyncio.Lock()
            async with self._connecting:
                if self.client is None:
                    assert self._factory is not None
                    self.client = await self._factory()
        if self._watch is None:
            self.loop = asyncio.get_running_loop()
            self._watch = asyncio.create_task(self._follow(), name=f"watch children of {self.parent}")
        if not self._synced.is_set():
            waiter = asyncio.ensure_future(self._synced.wait())
            await asyncio.wait({waiter, self._watch}, return_when=asyncio.FIRST_COMPLETED)
            if not self._synced.is_set():
                waiter.cancel()
                raise ControlPlaneError(f"watching the children of {self.parent} failed: {self._watch_error}")

    async def _follow(self) -> None:
        if self.use_actions:
            from flyteidl2.actions import actions_service_pb2 as asp

            method = self.client.actions.WatchForUpdates
            request: Any = asp.WatchForUpdatesRequest(parent_action_id=self._action_id(self.parent))
        else:
            from flyteidl2.workflow import state_service_pb2 as ss

            method = self.client.state.Watch
            request = ss.WatchRequest(parent_action_id=self._action_id(self.parent))
        try:
            async for msg in self.client.watch(method, request):
                if msg.HasField("control_message"):
                    if msg.control_message.sentinel:
                        self._synced.set()
                    continue
                upd = msg.action_update
                if phase_name(upd.phase) not in _TERMINAL:
                    continue
                name = upd.action_id.name
                fut = self._waiting.pop(name, None)
                if fut is not None and not fut.done():
                    fut.set_result(upd)
                else:
                    self._done[name] = upd
        except asyncio.CancelledError:
            raise
        except BaseException as e:
            self._watch_error = e
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(ControlPlaneError(f"lost the watch on the children of {self.parent}: {e}"))
            raise

    # -- one child ------------------------------------------------------------------------

    async def _spec(self, task: TaskTemplate[Any, Any]) -> Any:
        spec = self._specs.get(id(task))
        if spec is None:
            defaults = await default_inputs(task.interface)
            spec = self._specs[id(task)] = (task, task_spec(task, self.spec_context, defaults))
        return spec[1]

    async def _submit(
        self, task: TaskTemplate[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any], parent: TaskContext | None
    ) -> Any:
        in_lits = await inputs_to_literals(task.interface, args, kwargs)
        serialized = {k: v.SerializeToString(deterministic=True) for k, v in in_lits.items()}
        digest = names.inputs_digest(serialized)
        identity = f"{task.name}:{task.cache_version}"
        key = (identity, digest)
        seq = self._seq[key]
        self._seq[key] = seq + 1
        name = names.child_action_name(self.parent, identity, digest, seq)
        await self._ensure_watch()

        update = self._done.pop(name, None)
        if update is None:
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._waiting[name] = fut
            try:
                try:
                    await self._enqueue(task, name, in_lits, parent)
                except Exception as e:
                    if not _already_exists(e):
                        raise ControlPlaneError(f"could not launch child action {name} (task {task.name}): "
                                                f"{type(e).__name__}: {e}") from e
                    # Launched by an earlier attempt of this parent and still going: its updates arrive here.
                update = await fut
            except asyncio.CancelledError:
                self._waiting.pop(name, None)
                await self._abort_child(name, "the calling action stopped waiting for it")
                raise
            except BaseException:
                self._waiting.pop(name, None)
                raise
        else:
            logger.info("child %s of %s already finished (%s): re-attached", name, self.parent,
                        phase_name(update.phase))
        phase = phase_name(update.phase)
        if phase != "SUCCEEDED":
            raise io.exception_from(update.error, task=task.name, action=name, phase=phase)
        out_lits = await io.read_outputs(update.output_uri) if task.interface.outputs else {}
        return await literals_to_outputs(task.interface, out_lits)

    async def _enqueue(self, task: TaskTemplate[Any, Any], name: str, in_lits: dict[str, Any],
                       parent: TaskContext | None) -> None:
        from flyteidl2.task import task_definition_pb2
        from flyteidl2.workflow import run_definition_pb2 as rd

        inputs_uri = io.join(io.join(self.run_base_dir, name), io.INPUTS)
        await io.write_bytes(inputs_uri, io.inputs_message(in_lits).SerializeToString(deterministic=True))
        spec = await self._spec(task)
        tid = spec.task_template.id
        task_action = rd.TaskAction(
            id=task_definition_pb2.TaskIdentifier(org=tid.org, project=tid.project, domain=tid.domain,
                                                  name=tid.name, version=tid.version),
            spec=spec,
            queue=task.queue or "",
        )
        if task.cache.enabled:  # the backend's cache: same task code and same (non-ignored) inputs
            task_action.cache_key.value = names.cache_key(task.name, task.cache_version, in_lits,
                                                          task.cache.ignored_inputs)
        group = "/".join(parent.group) if parent is not None and parent.group else ""
        if self.use_actions:
            from flyteidl2.actions import actions_service_pb2 as asp

            await self.client.actions.Enqueue(asp.EnqueueRequest(action=asp.Action(
                action_id=self._action_id(name), parent_action_name=self.parent, task=task_action,
                input_uri=inputs_uri, run_output_base=self.run_base_dir, group=group)))
        else:
            from flyteidl2.workflow import queue_service_pb2 as qs

            await self.client.queue.EnqueueAction(qs.EnqueueActionRequest(
                action_id=self._action_id(name), parent_action_name=self.parent, task=task_action,
                input_uri=inputs_uri, run_output_base=self.run_base_dir, group=group))

    async def _abort_child(self, name: str, reason: str) -> None:
        try:
            if self.use_actions:
                from flyteidl2.actions import actions_service_pb2 as asp

                await self.client.actions.Abort(asp.AbortRequest(action_id=self._action_id(name), reason=reason))
            else:
                from flyteidl2.workflow import queue_service_pb2 as qs

                await self.client.queue.AbortQueuedAction(
                    qs.AbortQueuedActionRequest(action_id=self._action_id(name), reason=reason))
        except Exception as e:  # the parent is going away; the control plane aborts its children anyway
            logger.warning("could not abort child action %s: %s", name, e)

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(BaseException):  # cancelled, or already reported to the waiters
                await self._watch
            self._watch = None
        if self._factory is not None and self.client is not None:
            await self.client.close()
            self.client = None


__all__ = ["ActionsController", "ControlPlaneError"]
