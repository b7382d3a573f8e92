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
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.auth = auth
        self.worker_paths = worker_paths
        self.concurrency = concurrency
        self.env = env
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
