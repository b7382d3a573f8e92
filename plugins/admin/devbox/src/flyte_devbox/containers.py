"""Run each action in a container of its TaskSpec's image (``--executor docker|podman``).

The engine is driven through the Docker Engine API (the ``docker`` package, imported on use):
dockerd, or podman's Docker-compatible service (``podman system service``; the devbox starts one
of its own when none is running). Everything else - queueing, retries, timeouts, outcomes read
from ``error.pb``/``outputs.pb`` - is the subprocess executor's (:mod:`flyte_devbox.executor`);
only how an attempt starts, is waited for and is killed differs:

- the container runs the primary container's ``command`` (as the entrypoint, else the image's) and
  ``args`` with the placeholders filled in, on the host's network (the devbox at
  ``127.0.0.1:PORT``, the same ``_U_EP_OVERRIDE`` as subprocesses), never a bridge;
- the devbox's local data folder (when storage is a folder) and the attempt's working folder are
  bind-mounted at the same paths, so every URI in the contract means the same inside;
- env: the backend's variables, the run's env, the container's env and secrets, as for a
  subprocess, plus the storage credentials of the devbox's environment (``FLYTE_AWS_*``, ``AWS_*``...);
  not the rest of the devbox's environment (its PATH, HOME...): the image's own stay;
- cpu and memory limits from the spec (limits, else requests; a pod template's primary container's
  too) become the container's ``NanoCpus`` and ``Memory``;
- stdout and stderr are copied into the attempt's log files while it runs;
- abort and timeouts stop (SIGTERM, then SIGKILL after the grace period) and remove the container;
  every container carries the label ``flyte.devbox.id`` of its devbox (by data folder), so a
  restarted devbox removes the ones its previous process left.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from flyteidl2.common import phase_pb2
from flyteidl2.task import task_definition_pb2

from flyte_devbox.executor import Executor, Running, _attempt_token, _Outcome, system_error
from flyte_devbox.images import runs_on_host
from flyte_devbox.pod import primary_container

if TYPE_CHECKING:
    import docker

    from flyte_devbox.core import Devbox
    from flyte_devbox.store import ActionRow

log = logging.getLogger("flyte_devbox.containers")
T = TypeVar("T")

ENGINES = ("docker", "podman")
LABEL_DEVBOX = "flyte.devbox.id"
LABEL_ATTEMPT = "flyte.devbox.attempt"
#: Variables of the devbox's environment that reach containers: how to reach the storage.
PASSTHROUGH_PREFIXES = (
    "FLYTE_AWS_", "FLYTE_GCP_", "FLYTE_AZURE_", "FLYTE_STORAGE_", "AWS_", "AZURE_", "GOOGLE_", "GCS_",
)
PASSTHROUGH_NAMES = ("STORAGE_EMULATOR_HOST", "TZ")
_API_TIMEOUT = 600  # pulls and removals of large vfs containers are slow


class EngineUnavailable(RuntimeError):
    """The container engine for ``--executor`` cannot be reached or started."""


class EngineLost(RuntimeError):
    """The engine stopped answering while a container ran, for longer than ``engine_lost_after()``."""


# What a container's exit code is taken to be when its engine was lost (Docker's own code for "the engine
# failed", not one a task's process chooses).
ENGINE_LOST_CODE = 125


def engine_lost_after() -> float:
    """Seconds an engine may stay unreachable while a container runs before the attempt is given up
    (``FLYTE_DEVBOX_ENGINE_LOST_AFTER``, default 60): an engine restart takes less, a dead one never answers."""
    try:
        return max(0.0, float(os.environ.get("FLYTE_DEVBOX_ENGINE_LOST_AFTER", "60")))
    except ValueError:
        return 60.0


# ---- resources -----------------------------------------------------------------------------------

_SUFFIX = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}


def parse_quantity(value: str) -> float:
    """A Kubernetes quantity (``500m``, ``2``, ``1.5``, ``512Mi``, ``1G``, ``1e3``) as a number."""
    text = value.strip()
    m = re.fullmatch(r"([0-9.]+(?:[eE][-+]?[0-9]+)?)(m|[kMGTPE]i?|)", text)
    if m is None:
        raise ValueError(f"'{value}' is not a resource quantity (examples: 500m, 2, 512Mi, 1G)")
    number, suffix = float(m.group(1)), m.group(2)
    return number / 1000 if suffix == "m" else number * _SUFFIX[suffix]


def container_limits(container: Any) -> dict[str, int]:
    """``nano_cpus`` and ``mem_limit`` (bytes) for a ``flyteidl2.core.Container``: its limits, else its requests."""
    from flyteidl2.core import tasks_pb2

    names = tasks_pb2.Resources.ResourceName
    found: dict[int, str] = {}
    for entry in (*container.resources.requests, *container.resources.limits):  # limits last: they win
        found[entry.name] = entry.value
    out: dict[str, int] = {}
    if names.CPU in found:
        out["nano_cpus"] = max(1, round(parse_quantity(found[names.CPU]) * 1e9))
    if names.MEMORY in found:
        out["mem_limit"] = max(6 * 2**20, round(parse_quantity(found[names.MEMORY])))  # engines refuse < 6 MiB
    return out


# ---- the engine ----------------------------------------------------------------------------------


def devbox_id(data_dir: Path) -> str:
    """The label value that marks this devbox's containers (two devboxes on one engine keep theirs apart)."""
    return hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]


def _podman_socket() -> str | None:
    for cand in (
        Path(os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}") / "podman" / "podman.sock",
        Path("/run/podman/podman.sock"),
    ):
        if cand.exists():
            return f"unix://{cand}"
    return None


class Engine:
    """The Docker Engine API of ``kind`` (docker or podman) at ``url``; podman's service started if needed."""

    def __init__(self, kind: str, url: str | None, data_dir: Path) -> None:
        if kind not in ENGINES:
            raise EngineUnavailable(f"unknown executor '{kind}'; use one of subprocess, {', '.join(ENGINES)}")
        self.kind = kind
        self._service: subprocess.Popen[bytes] | None = None
        self._sock_dir: Path | None = None
        # Engine calls (pulls, vfs copies on create) can take seconds to minutes: their own threads, so they
        # never hold the event loop's default pool that the devbox's other work uses.
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="engine")
        if url is None and kind == "docker":
            url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        if url is None:
            url = os.environ.get("CONTAINER_HOST") or _podman_socket() or self._start_podman(data_dir)
        self.url = url
        try:
            import docker
        except ImportError as e:
            raise EngineUnavailable(
                f"--executor {kind} needs the 'docker' package (the Docker Engine API client): "
                "pip install 'flyte-devbox[containers]'"
            ) from e
        try:
            # version="auto" asks the engine for its API version right away: the first call that can fail
            self.api: docker.APIClient = docker.APIClient(base_url=url, timeout=_API_TIMEOUT, version="auto")
            self.api.ping()
            # Output streams and exit waits last as long as the task: no read timeout, a connection each.
            self.streams: docker.APIClient = docker.APIClient(
                base_url=url, timeout=None, version=self.api.api_version, max_pool_size=256
            )
        except Exception as e:
            self.close()
            hint = ("start dockerd, or point --engine-url / DOCKER_HOST at its socket" if kind == "docker"
                    else "start `podman system service`, or point --engine-url / CONTAINER_HOST at its socket")
            raise EngineUnavailable(f"--executor {kind}: no container engine answers at {url} ({e}); {hint}") from e

    def _start_podman(self, data_dir: Path) -> str:
        if shutil.which("podman") is None:
            raise EngineUnavailable(
                "--executor podman: no podman socket is running and `podman` is not on PATH; install podman "
                "(Debian/Ubuntu: apt-get install podman) or pass --engine-url unix:///path/to/podman.sock"
            )
        sock = data_dir / "podman.sock"
        if len(str(sock)) > 100:  # unix socket paths are limited to 108 bytes
            import tempfile

            self._sock_dir = Path(tempfile.mkdtemp(prefix="fdbx-"))
            sock = self._sock_dir / "podman.sock"
        pid_file = data_dir / "podman-service.pid"
        _stop_stale_service(pid_file, str(sock))  # one an earlier process of this devbox left (SIGKILL)
        sock.unlink(missing_ok=True)
        logf = (data_dir / "podman-service.log").open("ab")
        try:
            self._service = subprocess.Popen(
                ["podman", "system", "service", "--time=0", f"unix://{sock}"],
                stdout=logf, stderr=logf, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            logf.close()
        pid_file.write_text(str(self._service.pid))
        deadline = time.monotonic() + 30
        while not sock.exists():
            if self._service.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise EngineUnavailable(
                    f"--executor podman: `podman system service` did not start; see {data_dir / 'podman-service.log'}"
                )
            time.sleep(0.05)
        return f"unix://{sock}"

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in the engine's threads."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        for name in ("api", "streams"):
            client = getattr(self, name, None)
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
        if self._service is not None and self._service.poll() is None:
            self._service.terminate()
            try:
                self._service.wait(10)
            except subprocess.TimeoutExpired:
                self._service.kill()
                self._service.wait()
        if self._sock_dir is not None:
            shutil.rmtree(self._sock_dir, ignore_errors=True)

    def remove(self, ident: str) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.NotFound):
            try:
                self.api.remove_container(ident, force=True)
            except docker.errors.APIError as e:
                if "already in progress" not in str(e) and "no such container" not in str(e).lower():
                    log.warning("could not remove container %s: %s", ident[:12], e)

    def remove_labelled(self, **labels: str) -> int:
        """Remove every container (running or not) that carries all of ``labels``; how many there were."""
        filters = {"label": [f"{k}={v}" for k, v in labels.items()]}
        found = self.api.containers(all=True, filters=filters)
        for c in found:
            self.remove(c["Id"])
        return len(found)

    def wait_exit(self, ident: str, lost_after: float | None = None, retry_every: float = 1.0) -> int:
        """Block until the container exits; its exit code (-1: removed). EngineLost when the engine does not
        answer for ``lost_after`` seconds (default ``engine_lost_after()``): without a limit an action whose
        engine died stayed RUNNING for ever."""
        import docker.errors

        limit = engine_lost_after() if lost_after is None else lost_after
        unreachable_since: float | None = None
        while True:
            try:
                return int(self.streams.wait(ident, timeout=None).get("StatusCode", -1))
            except docker.errors.NotFound:
                return -1
            except Exception as e:  # the connection dropped (engine restarting): ask again, unless it is gone
                log.warning("waiting for container %s: %s; asking again", ident[:12], e)
                time.sleep(retry_every)
                try:
                    state = self.api.inspect_container(ident)["State"]
                except docker.errors.NotFound:
                    return -1
                except Exception as e2:
                    now = time.monotonic()
                    unreachable_since = unreachable_since or now
                    if now - unreachable_since >= limit:
                        raise EngineLost(f"the {self.kind} engine at {self.url} has not answered for "
                                         f"{now - unreachable_since:.0f} s ({e2})") from None
                    continue
                unreachable_since = None
                if not state.get("Running"):
                    return int(state.get("ExitCode", -1))

    def has_image(self, uri: str) -> bool:
        import docker.errors

        try:
            self.api.inspect_image(uri)
        except docker.errors.NotFound:
            return False
        return True

    def pull(self, uri: str) -> str | None:
        """Pull ``uri`` with the devbox's credentials for its registry (flyte config ``image.registry_*``, then
        the Docker config and its helpers); None when it worked, else why not."""
        import docker.errors
        from docker.utils import parse_repository_tag
        from flyte.images.credentials import credentials_for, split_reference

        repo, tag = parse_repository_tag(uri)
        try:
            creds = credentials_for(split_reference(uri)[0])
        except Exception as e:  # a credential helper that fails: say so, without any secret
            return f"reading the registry credentials failed: {type(e).__name__}: {e}"
        auth = {"username": creds.username, "password": creds.password} if creds else None
        try:
            for chunk in self.api.pull(repo, tag=tag or "latest", stream=True, decode=True, auth_config=auth):
                if "error" in chunk or "errorDetail" in chunk:
                    return str(chunk.get("error") or (chunk.get("errorDetail") or {}).get("message"))
        except docker.errors.DockerException as e:
            return str(e)
        except OSError as e:
            return f"{type(e).__name__}: {e}"
        return None if self.has_image(uri) else "the engine reported no error but does not have it"


def _stop_stale_service(pid_file: Path, sock: str) -> None:
    """SIGTERM the ``podman system service`` on ``sock`` whose pid ``pid_file`` holds, if it still runs."""
    import signal

    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (OSError, ValueError):
        return
    if "podman" in Path(cmdline[0]).name and "service" in cmdline and f"unix://{sock}" in cmdline:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)


# ---- one container -------------------------------------------------------------------------------


class _Container(Running):
    """A started container: one thread copies its output (attached before the start, so nothing is missed)
    into the log files, another waits for its exit (the engine's wait, not the end of the output stream)."""

    def __init__(self, engine: Engine, ident: str, output: Any, logs: Path, loop: asyncio.AbstractEventLoop) -> None:
        self.engine = engine
        self.ident = ident
        self.returncode = None
        self._exited: asyncio.Future[int] = loop.create_future()
        self._removed = False
        self._logs = logs
        self._pump = threading.Thread(target=self._copy, args=(output, logs), daemon=True,
                                      name=f"logs-{ident[:12]}")
        self._waiter = threading.Thread(target=self._wait_exit, args=(loop,), daemon=True,
                                        name=f"wait-{ident[:12]}")

    def start_following(self) -> None:
        self._pump.start()
        self._waiter.start()

    @staticmethod
    def _copy(output: Any, logs: Path) -> None:
        with (
            (logs / "stdout").open("ab") as out,
            (logs / "stderr").open("ab") as err,
            contextlib.suppress(Exception),  # a container removed meanwhile ends the stream
        ):
            for o, e in output:
                if o:
                    out.write(o)
                    out.flush()
                if e:
                    err.write(e)
                    err.flush()

    def _wait_exit(self, loop: asyncio.AbstractEventLoop) -> None:
        code = -1
        try:
            code = self.engine.wait_exit(self.ident)
            # The last output is in flight when the engine reports the exit; the stream ends soon after
            # (at the latest when the container is removed).
            self._pump.join(5)
        except EngineLost as e:  # the attempt fails (retryable) with this note as its stderr's tail
            code = ENGINE_LOST_CODE
            with contextlib.suppress(OSError), (self._logs / "stderr").open("a") as err:
                err.write(f"\nflyte-devbox: container {self.ident[:12]} is lost: {e}\n")
        finally:
            def done() -> None:
                if not self._exited.done():
                    self._exited.set_result(code)

            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(done)

    async def wait(self) -> int:
        self.returncode = await asyncio.shield(self._exited)
        return self.returncode

    async def terminate(self, grace_s: float) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.APIError):
            await self.engine.call(self.engine.api.stop, self.ident, timeout=max(1, round(grace_s)))
        try:
            await asyncio.wait_for(self.wait(), grace_s + 10)
        except TimeoutError:
            self.kill()

    def kill(self) -> None:
        if not self._removed:
            self._removed = True
            threading.Thread(target=self.engine.remove, args=(self.ident,), daemon=True).start()


# ---- the executor --------------------------------------------------------------------------------


class ContainerExecutor(Executor):
    """The devbox's executor for ``--executor docker|podman`` (see the module docstring)."""

    def __init__(self, box: Devbox) -> None:
        super().__init__(box)
        s = box.settings
        self.engine = Engine(s.executor, s.engine_url, s.data_dir)
        self.devbox_id = devbox_id(s.data_dir)
        self._pulls: dict[str, asyncio.Lock] = {}
        # Containers of an earlier process of this devbox (killed, crashed): nothing runs yet, so all are orphans.
        n = self.engine.remove_labelled(**{LABEL_DEVBOX: self.devbox_id})
        if n:
            log.warning("removed %d container(s) left by an earlier run of this devbox", n)

    def _env(self, row, spec, run_spec, attempt, work):  # type: ignore[no-untyped-def]
        if runs_on_host(spec):  # the image build task (flyte_devbox.images): a subprocess of this host
            return super()._env(row, spec, run_spec, attempt, work)
        env = {k: v for k, v in os.environ.items()
               if k.startswith(PASSTHROUGH_PREFIXES) or k in PASSTHROUGH_NAMES}
        env.update(self._action_env(row, spec, run_spec, attempt, work))
        return env

    def _kill_leftovers(self, row: ActionRow) -> None:
        self.engine.remove_labelled(**{LABEL_ATTEMPT: _attempt_token(row, row.attempts)})

    async def close(self) -> None:
        await super().close()
        # close() of the base class asked for removals in threads; give them a moment before the API closes.
        await self.engine.call(self.engine.remove_labelled, **{LABEL_DEVBOX: self.devbox_id})
        self.engine.close()

    async def _image_ready(self, image: str) -> str | None:
        """None when the engine has ``image`` (pulled if needed), else why it cannot be had."""
        if await self.engine.call(self.engine.has_image, image):
            return None
        lock = self._pulls.setdefault(image, asyncio.Lock())
        async with lock:
            if await self.engine.call(self.engine.has_image, image):
                return None
            return await self.engine.call(self.engine.pull, image)

    async def _launch(
        self,
        row: ActionRow,
        spec: task_definition_pb2.TaskSpec,
        attempt: int,
        argv: list[str],
        env: dict[str, str],
        work: Path,
        logs: Path,
    ) -> Running | _Outcome:
        if runs_on_host(spec):
            return await super()._launch(row, spec, attempt, argv, env, work, logs)
        import docker.errors

        container = primary_container(spec.task_template)
        task = spec.task_template.id.name or row.name
        image = container.image
        failed = phase_pb2.ACTION_PHASE_FAILED
        if not image:
            err = system_error("NoImage", f"task {task} names no container image; the {self.engine.kind} executor "
                                          "runs each action in its task's image")
            return _Outcome(failed, err)
        why = await self._image_ready(image)
        if why is not None:
            err = system_error(
                "ImageNotFound",
                f"image {image} of task {task} is not in the {self.engine.kind} engine at {self.engine.url} and "
                f"could not be pulled: {why}. Build and push it (`flyte build`, or `flyte run --runtime remote` "
                "builds missing images), or check the registry and its credentials",
            )
            return _Outcome(failed, err)
        try:
            limits = container_limits(container)
        except ValueError as e:
            return _Outcome(failed, system_error("BadResources", f"task {task}: {e}"))
        n_cmd = len(container.command)
        entrypoint, cmd = (argv[:n_cmd], argv[n_cmd:]) if n_cmd else (None, argv)
        binds = {str(work): {"bind": str(work), "mode": "rw"}}
        if self.box.data.local:
            files = str(self.box.settings.files_dir.resolve())
            binds[files] = {"bind": files, "mode": "rw"}
        api = self.engine.api
        host_config = api.create_host_config(network_mode="host", binds=binds, **limits)
        token = _attempt_token(row, attempt)
        name = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"fdbx-{self.devbox_id[:8]}-{row.run.name}-{row.name}-{attempt}")[:200]
        kwargs: dict[str, Any] = {}
        if os.getuid() != 0:  # files the task writes into the data folder stay the devbox user's
            kwargs["user"] = f"{os.getuid()}:{os.getgid()}"
            env.setdefault("HOME", str(work))
        labels = {LABEL_DEVBOX: self.devbox_id, LABEL_ATTEMPT: token, "flyte.devbox.action": row.name,
                  "flyte.devbox.run": row.run.name}

        def create_and_start() -> tuple[str, Any]:
            with contextlib.suppress(docker.errors.APIError):  # a leftover of an interrupted attempt
                self.engine.remove_labelled(**{LABEL_ATTEMPT: token})
            created = api.create_container(
                image, command=cmd, entrypoint=entrypoint, environment=env, working_dir=str(work), labels=labels,
                host_config=host_config, name=name, **kwargs,
            )
            ident = str(created["Id"])
            try:
                # attached before the start (as `docker run` does): output of a container that exits at once
                # is not lost, and the stream ends when the container does
                output = self.engine.streams.attach(ident, stdout=True, stderr=True, stream=True, logs=True,
                                                    demux=True)
                api.start(ident)
            except BaseException:
                self.engine.remove(ident)
                raise
            return ident, output

        start = asyncio.ensure_future(self.engine.call(create_and_start))
        try:
            ident, output = await asyncio.shield(start)
        except asyncio.CancelledError:
            start.add_done_callback(self._remove_started)
            raise
        except docker.errors.APIError as e:
            return _Outcome(failed, self._start_error(image, task, argv[0], e))
        running = _Container(self.engine, ident, output, logs, asyncio.get_running_loop())
        running.start_following()
        return running

    def _remove_started(self, fut: asyncio.Future[tuple[str, Any]]) -> None:
        if not fut.cancelled() and fut.exception() is None:
            threading.Thread(target=self.engine.remove, args=(fut.result()[0],), daemon=True).start()

    def _start_error(self, image: str, task: str, exe: str, e: Exception) -> Any:
        text = str(getattr(e, "explanation", None) or e)
        # the engine's words for a missing entry point name it (other start errors say "not found" too)
        if exe in text and re.search(r"not found|no such file|executable file", text, re.IGNORECASE):
            return system_error(
                "EntrypointNotFound",
                f"image {image} (task {task}) has no '{exe}' on its PATH, so the action cannot start: the image "
                "must have the SDK's worker entry point installed (flyte-core's 'flyte-core-worker', or the "
                f"official SDK's 'a0'); build it FROM an image with flyte-core, or add it to the image. ({text})",
            )
        return system_error("ContainerStartFailed", f"the {self.engine.kind} engine could not start image {image} "
                                                    f"for task {task}: {text}")

    async def _read_outcome(self, prefix, code, logs, spec):  # type: ignore[no-untyped-def]
        if code in (126, 127) and not await self.box.data.exists(self.box.data.join(prefix, "error.pb")):
            image = primary_container(spec.task_template).image
            from flyte_devbox.executor import _tail

            err = system_error(
                "EntrypointNotFound",
                f"the container of image {image} exited with code {code} (command not found or not executable): "
                "the image must have the SDK's worker entry point ('flyte-core-worker', or the official SDK's "
                f"'a0') on its PATH. Last stderr: {_tail(logs / 'stderr', 1000)}",
            )
            return _Outcome(phase_pb2.ACTION_PHASE_FAILED, err)
        return await super()._read_outcome(prefix, code, logs, spec)
