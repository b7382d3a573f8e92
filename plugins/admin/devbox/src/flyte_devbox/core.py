"""The devbox's shared state and the action lifecycle every service goes through."""

from __future__ import annotations

import asyncio
import logging
import secrets as _secrets
import string
import time
from dataclasses import dataclass, field
from pathlib import Path

from flyteidl2.common import phase_pb2
from flyteidl2.core import execution_pb2

from flyte_devbox.bus import Bus
from flyte_devbox.datastore import BucketStore, DataStore, LocalStore
from flyte_devbox.signed_url import Signer
from flyte_devbox.store import TERMINAL_PHASES, ActionRow, RunKey, Store

log = logging.getLogger("flyte_devbox")

_NAME_ALPHABET = string.ascii_lowercase + string.digits


def new_run_name() -> str:
    return "r" + "".join(_secrets.choice(_NAME_ALPHABET) for _ in range(9))


@dataclass
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8090
    storage: str | None = None
    worker_paths: list[str] = field(default_factory=list)
    concurrency: int = 8
    auth: bool = False
    max_message_bytes: int = 16 * 1024 * 1024
    kill_grace_s: float = 2.0
    image_builder: str | None = None  # --image-builder: the local builder plugin that builds images (images.py)
    executor: str = "subprocess"  # or docker / podman: each action in a container of its image
    engine_url: str | None = None  # the container engine's API (default: DOCKER_HOST / podman's socket)

    @property
    def state_db(self) -> Path:
        return self.data_dir / "state.db"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"


class Devbox:
    """Everything a request handler needs: settings, store, change bus, signer and executor."""

    def __init__(self, settings: Settings) -> None:
        from flyte_devbox.executor import Executor

        self.settings = settings
        settings.files_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(settings.state_db)
        self.bus = Bus()
        self.signer = Signer(self.store.secret_key("url_key"), settings.files_dir, self.url)
        self.data: DataStore = (
            BucketStore(settings.storage) if settings.storage else LocalStore(settings.files_dir, self.signer)
        )
        if settings.executor == "subprocess":
            self.executor = Executor(self)
        else:
            from flyte_devbox.containers import ContainerExecutor

            self.executor = ContainerExecutor(self)
        # Runs without inputs share one empty inputs.pb (no object written per run).
        self.empty_inputs = self.data.join(self.data.root, "inputs", "empty", "inputs.pb")
        self._empty_written = False
        self._empty_lock = asyncio.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    @property
    def cluster_name(self) -> str:
        """What SelectCluster answers: ``devbox``, or ``devbox-docker``/``devbox-podman`` (actions need images)."""
        ex = self.settings.executor
        return "devbox" if ex == "subprocess" else f"devbox-{ex}"

    @property
    def endpoint(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def set_port(self, port: int) -> None:
        self.settings.port = port
        self.signer.base_url = self.url

    # ---- paths ----------------------------------------------------------------------------------

    def run_base(self, key: RunKey) -> str:
        return self.data.join(self.data.root, "runs", key.org, key.project, key.domain, key.name)

    def upload_uri(self, org: str, project: str, domain: str, root: str, filename: str) -> str:
        return self.data.join(self.data.root, "uploads", org, project, domain, root, filename)

    async def ensure_empty_inputs(self) -> str:
        if not self._empty_written:
            async with self._empty_lock:
                if not self._empty_written and not await self.data.exists(self.empty_inputs):
                    await self.data.write(self.empty_inputs, b"")
                self._empty_written = True
        return self.empty_inputs

    # ---- lifecycle ------------------------------------------------------------------------------

    def save(self, row: ActionRow) -> None:
        """Persist a state change and tell the watchers."""
        self.store.update_action(row)
        self.bus.publish(row)

    def finish(
        self,
        row: ActionRow,
        phase: int,
        *,
        error: execution_pb2.ExecutionError | None = None,
        reason: str | None = None,
    ) -> None:
        if row.terminal:
            return
        if row.parent and row.kind == "task":
            self.executor.child_done(row.run, row.parent)
        row.phase = phase
        row.end_time = time.time()
        if error is not None:
            row.error = error.SerializeToString()
        if reason is not None:
            row.abort_reason = reason
        with self.store.batch():
            self.save(row)
            # A finished parent takes its unfinished children with it.
            self.abort_children(row.run, row.name, f"parent action {row.name} finished")

    def abort_children(self, run: RunKey, parent: str, reason: str) -> None:
        for child in self.store.children(run, parent):
            if not child.terminal:
                self.abort(child, reason)

    def abort(self, row: ActionRow, reason: str) -> None:
        if row.terminal:
            return
        self.executor.cancel(row)
        self.finish(row, phase_pb2.ACTION_PHASE_ABORTED, reason=reason)

    def enqueue(self, row: ActionRow) -> bool:
        """Store a new child action and schedule it; False if the name exists (idempotent)."""
        if not self.store.insert_action(row):
            return False
        self.bus.publish(row)
        if row.kind == "task" and not row.terminal:
            if row.parent:
                self.executor.child_added(row.run, row.parent)
            self.executor.submit(row)
        return True

    def recover(self) -> None:
        """After a restart: fail what was running (system error, retried per policy), requeue the queued."""
        running = (
            phase_pb2.ACTION_PHASE_INITIALIZING,
            phase_pb2.ACTION_PHASE_RUNNING,
            phase_pb2.ACTION_PHASE_WAITING_FOR_RESOURCES,
        )
        active = self.store.actions_in_phases((*running, phase_pb2.ACTION_PHASE_QUEUED))
        for row in active:
            if row.parent:
                self.executor.child_added(row.run, row.parent)
        for row in active:
            if row.phase in running:
                self.executor.recover_interrupted(row)
        for row in self.store.actions_in_phases((phase_pb2.ACTION_PHASE_QUEUED,)):
            if row.phase not in TERMINAL_PHASES:
                self.executor.submit(row)

    async def close(self) -> None:
        await self.executor.close()
        self.bus.close()
        self.store.close()
