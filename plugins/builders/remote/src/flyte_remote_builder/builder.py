"""The ``remote`` image builder: the control plane builds and pushes, this machine needs no engine.

How an image is made sure of (the official remote builder's wire shape):

1. ``exists(uri)``: ``ImageService.GetImage`` for ``name:tag`` (the repository's last component and the
   content-hash tag). The image exists when the control plane answers with exactly ``uri``.
2. ``build(image)``: the image's ``ImageSpec`` and a tarball of the files its layers copy go up through
   DataProxy signed URLs (content-addressed: an unchanged context is not sent again); then a run of the
   control plane's system task ``build-image`` (project ``system``, domain ``production`` or
   ``FLYTE_IMAGEBUILDER_TASK_DOMAIN``, latest version) with the inputs ``spec``, ``context`` and
   ``target_image``. Its log is streamed (``TailLogs``) to ``on_output`` while it runs (``flyte build``'s
   live display); a failed build raises :class:`~flyte.images.errors.ImageBuildError` with the failing
   step and the log's last lines (or the registry error the control plane met, as the same class).

Where runs go (org, project, domain) and how to reach the control plane come from the flyte config
(``admin.endpoint``...) or ``flyte.init``, like any remote run. Options: ``project``, ``domain`` (of the
build runs), ``timeout`` (seconds a build may take, default 3600), ``endpoint`` and ``insecure`` (another
control plane than the configured one).

Example::

    from flyte.images import build_images
    build_images([env.image], builder="remote")   # flyte build FILE --builder remote
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte.images.builder import ImageBuilder, OutputCallback
from flyte.images.buildlog import BuildLog
from flyte.images.credentials import split_reference
from flyte.images.errors import (
    BuilderUnavailableError,
    ImageBuildError,
    RegistryAuthError,
    RegistryError,
    RegistryUnreachableError,
)

if TYPE_CHECKING:
    from flyte import Image
    from flyte.remote.connection import Target

BUILD_TASK_NAME = "build-image"
BUILD_TASK_PROJECT = "system"
DEFAULT_TIMEOUT = 3600.0
LOST_AFTER = 30.0
"""Seconds without an answer from the control plane after which a build being followed is given up on
(``FLYTE_REMOTE_LOST_AFTER``)."""
_LOG_MARK = "\n--- build output (last lines) ---\n"


class _Lost(Exception):
    """The control plane stopped answering while a build was followed."""


def build_task_domain() -> str:
    return os.environ.get("FLYTE_IMAGEBUILDER_TASK_DOMAIN", "production")


def short_name(uri: str) -> str:
    """``host:5000/a/b:tag`` -> ``b:tag``: what ``GetImage`` is asked for (as the official client does)."""
    _host, repo, tag = split_reference(uri)
    return f"{repo.rsplit('/', 1)[-1]}:{tag}"


def _status(e: BaseException) -> str:
    from flyte.remote.task import status_of

    return status_of(e)


def _details(e: BaseException) -> str:
    details = getattr(e, "details", None)
    text = details() if callable(details) else None
    return str(text or e)


def _sync(coro: Any) -> Any:
    """Run ``coro`` to completion from sync code, also when the caller is inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class _Calls:
    """The calls a builder runs from sync code, each on a loop of its own (often on a worker thread, as
    ``await asyncio.to_thread(build_images, ...)`` does): :meth:`cancel` cancels them from any thread, so a
    build run is aborted instead of going on after the caller gave up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = set()
        self._cancelled = False

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        async def tracked() -> Any:
            task = asyncio.current_task()
            assert task is not None
            me = (asyncio.get_running_loop(), task)
            with self._lock:
                if self._cancelled:
                    coro.close()
                    raise asyncio.CancelledError("the builder was cancelled")
                self._running.add(me)
            try:
                return await coro
            finally:
                with self._lock:
                    self._running.discard(me)

        return _sync(tracked())

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            running = list(self._running)
        for loop, task in running:
            with contextlib.suppress(RuntimeError):  # that loop just closed: its call is over
                loop.call_soon_threadsafe(task.cancel)


class RemoteBuilder(ImageBuilder):
    """Builds on the control plane (see the module docstring)."""

    name = "remote"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.timeout = float(options.get("timeout") or DEFAULT_TIMEOUT)
        self._calls = _Calls()

    def __repr__(self) -> str:
        shown = {k: self.options[k] for k in ("endpoint", "project", "domain") if self.options.get(k)}
        return f"RemoteBuilder({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    # -- where ---------------------------------------------------------------------------------------

    def target(self) -> Target:
        """The control plane and the project/domain build runs go to: the ``endpoint`` option (with
        ``insecure``), else the configured control plane."""
        from flyte.remote.connection import DEFAULT_DOMAIN, DEFAULT_PROJECT, Target, target

        project, domain = self.options.get("project"), self.options.get("domain")
        if not self.options.get("endpoint"):
            return target(project, domain)
        from flyte.admin import AdminSettings

        settings = AdminSettings.from_config(endpoint=str(self.options["endpoint"]),
                                             insecure=bool(self.options.get("insecure", False)))
        return Target(settings=settings, org=settings.org or "", project=project or settings.project or DEFAULT_PROJECT,
                      domain=domain or settings.domain or DEFAULT_DOMAIN)

    async def _connect(self, t: Target) -> Any:
        from flyte.admin import connect

        return await connect(t.settings)

    def _unreachable(self, t: Target, e: BaseException) -> BuilderUnavailableError:
        return BuilderUnavailableError(
            f"no control plane answering at {t.settings.endpoint} ({_status(e) or type(e).__name__}: {_details(e)}); "
            "is it running (flyte devbox start), and are admin.endpoint and admin.insecure right?")

    async def _build_task(self, client: Any, t: Target) -> Any:
        """The TaskIdentifier of the latest version of the control plane's build task."""
        from flyteidl2.common import list_pb2
        from flyteidl2.task import task_definition_pb2 as td
        from flyteidl2.task import task_service_pb2 as ts

        domain = build_task_domain()
        name = td.TaskName(org=t.org, project=BUILD_TASK_PROJECT, domain=domain, name=BUILD_TASK_NAME)
        try:
            resp = await client.task.ListVersions(ts.ListVersionsRequest(
                task_name=name, request=list_pb2.ListRequest(limit=1)))
        except Exception as e:
            status = _status(e)
            if status == "FAILED_PRECONDITION":
                raise BuilderUnavailableError(f"the control plane at {t.settings.endpoint} answered: {_details(e)}") \
                    from None
            if status in ("UNAVAILABLE", "DEADLINE_EXCEEDED"):
                raise self._unreachable(t, e) from None
            if status != "NOT_FOUND":
                raise
            resp = None
        if resp is None or not resp.versions:
            raise BuilderUnavailableError(
                f"the control plane at {t.settings.endpoint} has no image build task "
                f"({BUILD_TASK_PROJECT}/{domain}/{BUILD_TASK_NAME}); for flyte-devbox, start it with "
                "--image-builder docker (or podman)")
        return td.TaskIdentifier(org=t.org, project=BUILD_TASK_PROJECT, domain=domain, name=BUILD_TASK_NAME,
                                 version=resp.versions[0].version)

    # -- the ImageBuilder interface ------------------------------------------------------------------

    def check_available(self) -> str | None:
        from flyte.errors import ConfigError

        try:
            t = self.target()
        except ConfigError as e:
            return f"no control plane is configured ({e})"

        return self._calls.run(self._why_unavailable(t))

    async def _why_unavailable(self, t: Target) -> str | None:
        try:
            async with await self._connect(t) as client:
                await self._build_task(client, t)
        except BuilderUnavailableError as e:
            return str(e)
        except Exception as e:
            return (f"asking the control plane at {t.settings.endpoint} for its image build task failed: "
                    f"{_status(e) or type(e).__name__}: {_details(e)}")
        return None

    def exists(self, uri: str) -> bool:
        """Whether the control plane has ``uri`` (``GetImage``). Raises when it cannot tell."""
        return bool(self._calls.run(self.exists_async(uri)))

    async def exists_async(self, uri: str) -> bool:
        from flyteidl2.common import identifier_pb2
        from flyteidl2.imagebuilder import definition_pb2, payload_pb2

        t = self.target()
        req = payload_pb2.GetImageRequest(
            id=definition_pb2.ImageIdentifier(name=short_name(uri)), organization=t.org,
            project_id=identifier_pb2.ProjectIdentifier(organization=t.org, domain=t.domain, name=t.project))
        try:
            async with await self._connect(t) as client:
                resp = await client.image.GetImage(req)
        except Exception as e:
            status = _status(e)
            if status == "NOT_FOUND":
                return False
            if status == "UNAVAILABLE" and "registry" in _details(e):
                # the control plane is there, the image's registry did not answer it
                raise RegistryUnreachableError(f"{_details(e)} (asked by the control plane at "
                                               f"{t.settings.endpoint})", registry=split_reference(uri)[0]) from None
            if status == "UNAVAILABLE" or status == "DEADLINE_EXCEEDED":
                why = await self._why_unavailable(t) or str(self._unreachable(t, e))
                raise BuilderUnavailableError(f"image builder 'remote' cannot run here: {why}") from None
            raise RegistryError(f"the control plane at {t.settings.endpoint} could not tell whether {uri} exists: "
                                f"{status}: {_details(e)}", registry=split_reference(uri)[0]) from None
        return str(resp.image.fqin) == uri

    def build(self, image: Image, *, push: bool = True, on_output: OutputCallback | None = None) -> str:
        if self.options.get("network"):
            raise ImageBuildError(
                f"{image.uri}: the remote builder cannot choose the network of RUN steps (--network); the control "
                "plane's builder uses its own setting (flyte-devbox: FLYTE_IMAGE_BUILD_NETWORK in its environment)",
                uri=image.uri)
        if not push:
            raise ImageBuildError(
                f"{image.uri}: the remote builder builds on the control plane, which always pushes; build with "
                "--push, or use a local builder (--builder docker or podman) to keep an image on this machine",
                uri=image.uri)
        return str(self._calls.run(self.build_async(image, on_output=on_output)))

    def cancel(self) -> None:
        """Stop this builder's checks and builds running on other threads: a build run on the control plane
        is aborted, and the ``build``/``exists`` calls raise :class:`asyncio.CancelledError`; later ones too."""
        self._calls.cancel()

    async def build_async(self, image: Image, *, on_output: OutputCallback | None = None) -> str:
        from flyte.storage.dataproxy import DataProxyClient, StubAdapter

        from flyte_remote_builder.spec import image_spec, write_context

        uri = image.uri
        if "/" not in uri:
            raise ImageBuildError(f"{uri}: the image names no registry for the control plane to push to; set "
                                  "image.registry or Image.clone(registry=...)", uri=uri)
        spec, files = image_spec(image)
        t = self.target()
        log = BuildLog(on_output)
        try:
            client = await self._connect(t)
        except Exception as e:
            raise self._unreachable(t, e) from None
        async with client:
            task_id = await self._build_task(client, t)
            dp = DataProxyClient(StubAdapter(client.dataproxy, timeout=t.settings.timeout), project=t.project,
                                 domain=t.domain, org=t.org)
            with tempfile.TemporaryDirectory(prefix="flyte-remote-build-") as tmp:
                spec_file = Path(tmp) / "spec.pb"
                spec_file.write_bytes(spec.SerializeToString(deterministic=True))
                spec_uri = (await dp.upload_file(spec_file)).native_url
                tarball = await asyncio.to_thread(write_context, files, Path(tmp) / "context.tar.gz")
                context_uri = (await dp.upload_file(tarball)).native_url if tarball is not None else ""
            log.add(f"uploaded the image spec and a build context of {len(files)} files" if files
                    else "uploaded the image spec (no build context: no layer copies files)")
            run = await self._start(client, t, task_id, spec_uri, context_uri, uri)
            log.add(f"build run {run.name} started on {t.settings.endpoint}")
            try:
                phase, error = await asyncio.wait_for(self._follow(client, run, log), self.timeout)
            except _Lost as e:
                raise ImageBuildError(f"lost contact with the control plane at {t.settings.endpoint} while its build "
                                      f"run {run.name} of {uri} went on: {e}; the build may still finish there "
                                      "(building again finds the image once it is pushed)", uri=uri,
                                      log="\n".join(log.lines)) from None
            except TimeoutError:  # _follow aborted the run when it was cancelled
                raise ImageBuildError(f"the build run {run.name} took longer than {self.timeout:.0f}s (the remote "
                                      "builder's timeout option) and was aborted", uri=uri, log="\n".join(log.lines),
                                      ) from None
            if phase != "SUCCEEDED":
                raise self._failure(uri, phase, error, log)
            return await self._output(client, run) or uri

    # -- the build run -------------------------------------------------------------------------------

    async def _start(self, client: Any, t: Target, task_id: Any, spec_uri: str, context_uri: str, uri: str) -> Any:
        from flyte.remote.io import inputs_message
        from flyteidl2.common import identifier_pb2
        from flyteidl2.core import literals_pb2
        from flyteidl2.workflow import run_service_pb2 as rs

        def s(v: str) -> Any:
            return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=v)))

        inputs = inputs_message({"spec": s(spec_uri), "context": s(context_uri), "target_image": s(uri)})
        req = rs.CreateRunRequest(task_id=task_id, inputs=inputs,
                                  project_id=identifier_pb2.ProjectIdentifier(organization=t.org, name=t.project,
                                                                              domain=t.domain))
        try:
            resp = await client.run.CreateRun(req)
        except Exception as e:
            if _status(e) == "FAILED_PRECONDITION":
                raise BuilderUnavailableError(f"the control plane at {t.settings.endpoint} answered: {_details(e)}") \
                    from None
            raise
        return resp.run.action.id.run

    async def _follow(self, client: Any, run: Any, log: BuildLog) -> tuple[str, Any]:
        """Stream the build's log into ``log`` until the run ends; (phase name, error info)."""
        from flyte.remote.names import phase_name
        from flyteidl2.common import identifier_pb2
        from flyteidl2.dataproxy import dataproxy_service_pb2 as dp
        from flyteidl2.workflow import run_service_pb2 as rs

        aid = identifier_pb2.ActionIdentifier(run=run, name="a0")

        async def tail() -> None:
            async for resp in client.watch(client.dataproxy.TailLogs, dp.TailLogsRequest(action_id=aid, attempt=1)):
                for logs in resp.logs:
                    for line in logs.lines:
                        log.add(line.message)

        # a control plane that went away is given up on after FLYTE_REMOTE_LOST_AFTER seconds without an
        # answer (as `flyte run` does), instead of reconnecting until the build's timeout
        limit = float(os.environ.get("FLYTE_REMOTE_LOST_AFTER") or LOST_AFTER)
        silent_since: list[float | None] = [None]

        def on_reconnect(_n: int) -> None:
            now = time.monotonic()
            if silent_since[0] is None:
                silent_since[0] = now
            elif now - silent_since[0] > limit:
                raise _Lost(f"no answer for {limit:.0f}s")

        tailing = asyncio.ensure_future(tail())
        finished = False
        try:
            while True:
                async for resp in client.watch(client.run.WatchRunDetails, rs.WatchRunDetailsRequest(run_id=run),
                                               on_reconnect=on_reconnect):
                    silent_since[0] = None
                    action = resp.details.action
                    name = phase_name(action.status.phase)
                    if name in ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"):
                        # the log ends with the attempt: let it drain before judging
                        finished = True
                        with contextlib.suppress(Exception):  # a log that does not end in time is not the verdict
                            await asyncio.wait_for(asyncio.shield(tailing), 30.0)
                        return name, action.error_info
                # the stream ended before the run did (a control plane shutting down): watch again
                on_reconnect(0)
                await asyncio.sleep(0.5)
        except asyncio.CancelledError:  # Ctrl-C while following: the build on the control plane stops too
            if not finished:
                with contextlib.suppress(Exception):
                    await asyncio.shield(client.run.AbortRun(rs.AbortRunRequest(run_id=run, reason="build cancelled")))
            raise
        finally:
            tailing.cancel()

    async def _output(self, client: Any, run: Any) -> str:
        from flyteidl2.common import identifier_pb2
        from flyteidl2.workflow import run_service_pb2 as rs

        aid = identifier_pb2.ActionIdentifier(run=run, name="a0")
        resp = await client.run.GetActionData(rs.GetActionDataRequest(action_id=aid))
        for nl in resp.outputs.literals:
            return str(nl.value.scalar.primitive.string_value)
        return ""

    def _failure(self, uri: str, phase: str, error: Any, log: BuildLog) -> Exception:
        code = str(getattr(error, "code", "") or "")
        message = str(getattr(error, "message", "") or f"the build run ended {phase}")
        summary = message.split(_LOG_MARK, 1)[0].strip()
        registry = split_reference(uri)[0]
        if code == "RegistryAuthError":
            return RegistryAuthError(summary, registry=registry)
        if code == "RegistryUnreachableError":
            return RegistryUnreachableError(summary, registry=registry)
        if code == "RegistryError":
            return RegistryError(summary, registry=registry)
        if code == "BuilderUnavailableError":
            return BuilderUnavailableError(f"the control plane's builder cannot build: {summary}")
        step = log.step
        if step is None and "at step `" in summary:
            step = summary.split("at step `", 1)[1].split("`", 1)[0]
        body = "\n".join(log.lines[-25:]) if log.lines else message.partition(_LOG_MARK)[2]
        text = f"{summary}{_LOG_MARK}{body}" if body else summary
        return ImageBuildError(text, uri=uri, step=step, log="\n".join(log.lines), summary=summary)
