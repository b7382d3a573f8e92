"""Start real storage servers on loopback for tests and benchmarks, and stop them by PID.

Each launcher picks a free port on 127.0.0.1, keeps its data under a folder you give
(a pytest ``tmp_path``), waits until the server answers, and returns a :class:`Service`
whose :meth:`~Service.stop` terminates exactly that process. A missing tool raises
:class:`ServiceUnavailable` saying what is missing and how to install it; the fixtures of
:mod:`flyte_testing.plugin` (``moto``, ``moto_auth``, ``azurite``, ``gcs_emulator``) turn that
into a skip.

Example (outside pytest, or in a fixture of your own)::

    from flyte_testing import services

    with services.moto_server(Path("/tmp/moto-data")) as s:
        print(s.url, s.env["AWS_ACCESS_KEY_ID"])
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class ServiceUnavailable(RuntimeError):
    """The tool needed to start a service is not installed (the message says which and how)."""


@dataclass
class Service:
    """A running server: where it listens, how to reach it, and its process."""

    name: str
    url: str
    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate this process (SIGTERM, then SIGKILL after ``timeout``)."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)

    def log(self) -> str:
        p = self.data_dir / f"{self.name}.log"
        return p.read_text(errors="replace")[-4000:] if p.exists() else ""

    def __repr__(self) -> str:
        return f"<Service {self.name} {self.url} pid={self.pid}>"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Poll ``url`` until any HTTP answer comes back; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with code {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise TimeoutError(f"server for {url} not ready after {timeout:.0f}s")


def _spawn(
    name: str, cmd: list[str], data_dir: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / f"{name}.log", "wb")  # noqa: SIM115 - kept open for the child's lifetime
    try:
        return subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=str(cwd or data_dir),
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    finally:
        log.close()


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the test process dies, so no server outlives a killed run."""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start(name: str, cmd: list[str], data_dir: Path, port: int, ready_url: str, **kw: Any) -> Service:
    proc = _spawn(name, cmd, data_dir, env=kw.pop("env", None))
    svc = Service(name=name, url=kw.pop("url", f"http://127.0.0.1:{port}"), port=port, process=proc, data_dir=data_dir)
    try:
        wait_until_ready(ready_url, proc, kw.pop("timeout", 30.0))
    except Exception as e:
        svc.stop()
        raise RuntimeError(f"{e}\n--- {name} log ---\n{svc.log()}") from None
    return svc


def _script(name: str) -> str | None:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


# -- S3 ------------------------------------------------------------------------------


def start_moto(data_dir: Path, *, auth: bool = False) -> Service:
    """moto in server mode. With ``auth=True`` it checks SigV4 signatures and keys: an IAM user
    with full S3 access is created, and its keys are in ``service.env``
    (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``). Without, any key works."""
    exe = _script("moto_server")
    if exe is None:
        raise ServiceUnavailable(
            "moto_server (the S3 emulator) is not installed next to this Python nor on PATH: "
            "pip install 'flyte-testing[s3]' (or 'moto[server]')"
        )
    port = free_port()
    env = {"MOTO_ALLOW_NONEXISTENT_REGION": "1"}
    if auth:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "4"
    svc = _start(
        "moto", [exe, "-H", "127.0.0.1", "-p", str(port)], data_dir, port, f"http://127.0.0.1:{port}/", env=env
    )
    # GET / counted as one unauthenticated action when auth is on; three IAM calls follow.
    keys = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    if auth:
        keys = _moto_iam_user(svc.url)
    svc.env = {**keys, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": svc.url}
    return svc


def _moto_iam_user(url: str) -> dict[str, str]:
    import boto3

    iam = boto3.client(
        "iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    iam.create_user(UserName="flyte-test")
    iam.put_user_policy(
        UserName="flyte-test",
        PolicyName="all-s3",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
    )
    key = iam.create_access_key(UserName="flyte-test")["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


@contextlib.contextmanager
def moto_server(data_dir: Path, *, auth: bool = False) -> Iterator[Service]:
    svc = start_moto(data_dir, auth=auth)
    try:
        yield svc
    finally:
        svc.stop()


# -- Azure ---------------------------------------------------------------------------


def tools_dir() -> Path | None:
    """The folder holding ``node_modules`` of npm tools: ``$FLYTE_DEV_TOOLS``, else a ``.tools`` folder in the
    current directory or above it (where the flyte repository's set-up installs them)."""
    env = os.environ.get("FLYTE_DEV_TOOLS")
    if env and Path(env).is_dir():
        return Path(env)
    for base in [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]:
        cand = base / ".tools"
        if (cand / "node_modules").is_dir():
            return cand
    return None


def azurite_executable() -> Path | None:
    """``azurite-blob`` from the tools folder (:func:`tools_dir`), else from ``PATH``."""
    tools = tools_dir()
    if tools is not None:
        exe = tools / "node_modules" / ".bin" / "azurite-blob"
        if exe.exists():
            return exe
    found = shutil.which("azurite-blob")
    return Path(found) if found else None


def start_azurite(data_dir: Path) -> Service:
    """Azurite's blob service (the npm package ``azurite``), found on ``PATH`` or under
    ``$FLYTE_DEV_TOOLS/node_modules/.bin``."""
    exe = azurite_executable()
    if exe is None:
        raise ServiceUnavailable(
            "azurite-blob (Azurite, the Azure Storage emulator, an npm package) is not installed: "
            "`npm install -g azurite` puts it on PATH; or `npm install --prefix DIR azurite` and set "
            "FLYTE_DEV_TOOLS=DIR"
        )
    if shutil.which("node") is None:
        raise ServiceUnavailable("node (Node.js 18 or newer) is not installed; Azurite needs it")
    port = free_port()
    cmd = [
        str(exe),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--location",
        str(data_dir / "azurite"),
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
    ]
    url = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    svc = _start("azurite", cmd, data_dir, port, f"http://127.0.0.1:{port}/", url=url)
    conn = f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint={url};"
    svc.env = {"AZURE_STORAGE_CONNECTION_STRING": conn}
    svc.extra = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY, "connection_string": conn}
    return svc


@contextlib.contextmanager
def azurite(data_dir: Path) -> Iterator[Service]:
    svc = start_azurite(data_dir)
    try:
        yield svc
    finally:
        svc.stop()


# -- GCS -----------------------------------------------------------------------------


def start_gcs_emulator(data_dir: Path, *, default_bucket: str = "flyte-test") -> Service:
    """``gcp-storage-emulator`` (PyPI, flyte-gcs's test extra), in memory.

    ``service.env`` holds ``STORAGE_EMULATOR_HOST`` and the gcsfs switch that keeps bucket
    calls from stalling against emulators."""
    exe = _script("gcp-storage-emulator")
    if exe is None:
        raise ServiceUnavailable(
            "gcp-storage-emulator (the GCS emulator) is not installed next to this Python nor on PATH: "
            "pip install 'flyte-testing[gcs]' (or gcp-storage-emulator)"
        )
    port = free_port()
    cmd = [exe, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "--default-bucket", default_bucket]
    svc = _start("gcs", cmd, data_dir, port, f"http://127.0.0.1:{port}/storage/v1/b")
    svc.env = {"STORAGE_EMULATOR_HOST": svc.url, "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"}
    svc.extra = {"default_bucket": default_bucket}
    return svc


@contextlib.contextmanager
def gcs_emulator(data_dir: Path, *, default_bucket: str = "flyte-test") -> Iterator[Service]:
    svc = start_gcs_emulator(data_dir, default_bucket=default_bucket)
    try:
        yield svc
    finally:
        svc.stop()


__all__ = [
    "AZURITE_ACCOUNT",
    "AZURITE_KEY",
    "DroppingProxy",
    "Service",
    "ServiceUnavailable",
    "azurite",
    "azurite_executable",
    "free_port",
    "gcs_emulator",
    "moto_server",
    "start_azurite",
    "start_gcs_emulator",
    "start_moto",
    "tools_dir",
    "wait_until_ready",
]


# -- faults --------------------------------------------------------------------------


class DroppingProxy:
    """A loopback TCP proxy in front of ``target_port`` that cuts uploads short.

    The first ``drop_connections`` connections (all of them when ``None``) are closed once
    ``drop_after`` bytes of the request have passed; later ones are forwarded whole. Use it
    to check that a dropped upload is retried, or fails with one clear error and leaves no
    object behind. ``port`` is where clients connect; :meth:`close` stops it.
    """

    def __init__(self, target_port: int, *, drop_after: int, drop_connections: int | None = None) -> None:
        import threading

        self.target_port = target_port
        self.drop_after = drop_after
        self.drop_connections = drop_connections
        self.connections = 0
        self.dropped = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = int(self._sock.getsockname()[1])
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="dropping-proxy", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import threading

        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            drop = self.drop_connections is None or self.connections <= self.drop_connections
            threading.Thread(target=self._pipe, args=(client, drop), daemon=True).start()

    def _pipe(self, client: socket.socket, drop: bool) -> None:
        import threading

        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        except OSError:
            with contextlib.suppress(OSError):
                client.close()
            return
        upstream.settimeout(None)

        def back() -> None:
            with contextlib.suppress(OSError):
                while data := upstream.recv(65536):
                    client.sendall(data)
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)

        threading.Thread(target=back, daemon=True).start()
        sent = 0
        try:
            while data := client.recv(65536):
                if drop and sent + len(data) > self.drop_after:
                    upstream.sendall(data[: max(0, self.drop_after - sent)])
                    self.dropped += 1
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    break
                upstream.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for s in (client, upstream):
                with contextlib.suppress(OSError):
                    s.close()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the serving thread (Linux)
        with contextlib.suppress(OSError):
            self._sock.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DroppingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
