"""A devbox in a child process for tests and benchmarks: start, kill, restart on the same port and data.

with DevboxProcess(tmp_path) as box:
    channel = grpc.aio.insecure_channel(box.endpoint)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any


class DevboxProcess:
    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        port: int = 0,
        auth: bool = False,
        worker_paths: tuple[str, ...] = (),
        concurrency: int = 8,
        env: dict[str, str] | None = None,
        storage: str | None = None,
        executor: str = "subprocess",
        engine_url: str | None = None,
        image_builder: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.auth = auth
        self.worker_paths = worker_paths
        self.concurrency = concurrency
        self.env = env
        self.storage = storage
        self.executor = executor
        self.engine_url = engine_url
        self.image_builder = image_builder
        self.proc: subprocess.Popen[bytes] | None = None
        self.client_id: str | None = None
        self.client_secret: str | None = None
        self.ready_seconds: float | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> DevboxProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "flyte_devbox",
            "serve",
            "--port",
            str(self.port),
            "--data",
            str(self.data_dir),
            "--concurrency",
            str(self.concurrency),
        ]
        if self.auth:
            cmd.append("--auth")
        for p in self.worker_paths:
            cmd += ["--worker-path", p]
        if self.storage:
            cmd += ["--storage", self.storage]
        if self.executor != "subprocess":
            cmd += ["--executor", self.executor]
        if self.engine_url:
            cmd += ["--engine-url", self.engine_url]
        if self.image_builder:
            cmd += ["--image-builder", self.image_builder]
        env = dict(os.environ if self.env is None else self.env)
        log = (self.data_dir / "devbox.log").open("ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=env)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            line = self.proc.stdout.readline().decode()
            if not line:
                raise RuntimeError(f"the devbox exited before it was ready; see {self.data_dir / 'devbox.log'}")
            if line.startswith("flyte-devbox ready on "):
                self.ready_seconds = time.perf_counter() - t0
                self.port = int(line.strip().rsplit(":", 1)[1])
                break
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError("the devbox did not become ready in time")
        if self.auth:
            creds = json.loads((self.data_dir / "credentials.json").read_text())
            self.client_id, self.client_secret = creds["client_id"], creds["client_secret"]
        return self

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as if the machine lost the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._close()

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> DevboxProcess:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


PROJECT_NAME = "flytesnacks"
DOMAIN_NAME = "development"


def project_id() -> Any:
    from flyteidl2.common import identifier_pb2 as ids

    return ids.ProjectIdentifier(name=PROJECT_NAME, domain=DOMAIN_NAME)


def py_spec(code: str, *, retries: int = 0, timeout_s: float = 0, name: str = "t", outputs: bool = False) -> Any:
    """A TaskSpec whose container runs ``python -c code`` with the output prefix as argv[1]."""
    from flyteidl2.task import task_definition_pb2 as td

    s = td.TaskSpec()
    s.task_template.id.name = name
    s.task_template.type = "python"
    s.task_template.container.args.extend([sys.executable, "-c", code, "{{.outputPrefix}}", "{{.input}}"])
    if retries:
        s.task_template.metadata.retries.retries = retries
    if timeout_s:
        s.task_template.metadata.timeout.FromSeconds(int(timeout_s))
    if outputs:
        s.task_template.interface.outputs.variables.add(key="o0")
    return s


def wait_phase(stub: Any, run_id: Any, phases: set[int], timeout: float = 30) -> Any:
    from flyteidl2.workflow import run_service_pb2 as rs

    deadline = time.monotonic() + timeout
    while True:
        d = stub.GetRunDetails(rs.GetRunDetailsRequest(run_id=run_id)).details
        if d.action.status.phase in phases:
            return d
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id.name} still in phase {d.action.status.phase}")
        time.sleep(0.05)


def official_python() -> str | None:
    """The official SDK's interpreter (dev.py's .official-venv, or FLYTE_OFFICIAL_PYTHON)."""
    env = os.environ.get("FLYTE_OFFICIAL_PYTHON")
    for cand in (env, str(Path(__file__).resolve().parents[5] / ".official-venv" / "bin" / "python")):
        if cand and Path(cand).exists():
            return cand
    return None


def sdk_env(home: str | os.PathLike[str]) -> dict[str, str]:
    """This process's environment without any FLYTE_/UCTL_/FLYTECTL_ variable, with HOME set to ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "UCTL_", "FLYTECTL_"))}
    env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    return env


def run_sdk_program(
    executable: str,
    *args: str,
    cwd: str | os.PathLike[str],
    home: str | os.PathLike[str],
    timeout: float = 300,
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run ``executable *args`` (an SDK program or CLI against a devbox) in ``cwd`` with :func:`sdk_env`.

    Returns the finished process and its ``KEY value`` stdout lines as a dict; the caller checks the exit code.
    """
    r = subprocess.run([executable, *args], capture_output=True, text=True, timeout=timeout, env=sdk_env(home), cwd=cwd)
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
    return r, lines
