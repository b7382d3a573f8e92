"""Start real container engines and registries for tests, on loopback, with data in temp folders.

Everything here listens on ``127.0.0.1`` (or a unix socket in a short temp folder), is started as
a child process and stopped by its PID. Nothing touches the host's network set-up: dockerd runs
with ``--iptables=false --bridge=none``, podman with ``netns = "none"``, builds use no network.

Launchers raise :class:`EngineUnavailable` (what is missing and how to install it) when a binary
is missing. :func:`podman_stack` and :func:`dockerd_stack` put together what
:class:`flyte.testing.builders.BuilderConformance` needs (two registries, a base image, an engine);
the ``podman_stack`` and ``dockerd_stack`` fixtures of :mod:`flyte_testing.plugin` skip when they
cannot start.

Example::

    with start_registry() as reg, podman_env() as env, start_podman_service(env) as svc:
        base = make_base_image(env, reg.host)
        ...  # DockerClient(base_url=svc.url) builds FROM base
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flyte_testing.services import free_port

if TYPE_CHECKING:
    from flyte.images.builder import ImageBuilder
    from flyte.testing.builders import BuilderTarget

BASE_IMAGE_REPO = "flyte-test/base"


class EngineUnavailable(RuntimeError):
    """A binary or kernel feature an engine needs is missing here."""


#: The Debian/Ubuntu package that provides each binary the launchers run.
APT_PACKAGES = {
    "docker-registry": "docker-registry",
    "htpasswd": "apache2-utils",
    "podman": "podman",
    "buildah": "buildah",
    "runc": "runc",
    "dockerd": "docker.io",
    "containerd": "containerd",
    "busybox": "busybox-static",
}


def need(*binaries: str) -> None:
    """Raise :class:`EngineUnavailable` naming the binaries not on ``PATH`` and the packages providing them."""
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing:
        packages = " ".join(sorted({APT_PACKAGES.get(b, b) for b in missing}))
        raise EngineUnavailable(
            f"{', '.join(missing)} not found on PATH; install them (Debian/Ubuntu: apt-get install {packages})"
        )


def short_tmpdir(prefix: str) -> Path:
    """A temp folder with a short path: unix socket paths must stay under 108 bytes."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def _wait(check: object, what: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EngineUnavailable(f"{what} exited with code {proc.returncode}: {_tail(log)}")
        try:
            if check():  # type: ignore[operator]
                return
        except OSError:
            pass
        time.sleep(0.05)
    stop_process(proc)
    raise EngineUnavailable(f"{what} did not become ready within {timeout:.0f}s: {_tail(log)}")


def _tail(log: Path, n: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    f = open(log, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    finally:
        f.close()


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM the process by PID, then SIGKILL if it does not exit in time."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _http_ready(port: int, path: str = "/v2/") -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        return s.recv(64).startswith(b"HTTP/1.")


def _unix_ready(sock: Path, path: str) -> bool:
    if not sock.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(str(sock))
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: d\r\n\r\n".encode())
        return b" 200 " in s.recv(64)


# -- registry ---------------------------------------------------------------------------------------


@dataclass
class Registry:
    host: str
    root: Path
    proc: subprocess.Popen[bytes]
    username: str | None = None
    password: str | None = None

    def stop(self) -> None:
        stop_process(self.proc)


@contextlib.contextmanager
def start_registry(
    root: Path | None = None, *, username: str | None = None, password: str | None = None
) -> Iterator[Registry]:
    """A ``docker-registry`` on 127.0.0.1 with filesystem storage; htpasswd auth if a user is given."""
    need("docker-registry")
    own = root is None
    root = root or short_tmpdir("flreg-")
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if username:
        need("htpasswd")
        htfile = root / "htpasswd"
        subprocess.run(["htpasswd", "-Bbc", str(htfile), username, password or ""], check=True, capture_output=True,
                       timeout=30)
        auth = f"auth:\n  htpasswd:\n    realm: flyte-test\n    path: {htfile}\n"
    cfg = root / "config.yml"
    cfg.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n{auth}"
    )
    log = root / "registry.log"
    proc = _spawn(["docker-registry", "serve", str(cfg)], log)
    reg = Registry(f"127.0.0.1:{port}", root, proc, username, password)
    try:
        _wait(lambda: _http_ready(port), "docker-registry", proc, log, 20)
        yield reg
    finally:
        reg.stop()
        if own:
            shutil.rmtree(root, ignore_errors=True)


# -- podman / buildah -------------------------------------------------------------------------------


@dataclass
class PodmanEnv:
    """Private containers.conf / storage.conf / registries.conf for podman and buildah."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *cmd: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(list(cmd), env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
        return r


@contextlib.contextmanager
def podman_env(insecure_registries: tuple[str, ...] = (), root: Path | None = None) -> Iterator[PodmanEnv]:
    need("podman", "buildah", "runc")
    own = root is None
    root = root or short_tmpdir("flpod-")
    (root / "graph").mkdir(parents=True, exist_ok=True)
    (root / "run").mkdir(exist_ok=True)
    (root / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{root / "graph"}"\nrunroot = "{root / "run"}"\n'
    )
    (root / "containers.conf").write_text(
        '[containers]\nnetns = "none"\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
        '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
        f'events_logfile_path = "{root / "events.log"}"\ntmp_dir = "{root / "tmp"}"\n'
        f'[network]\nnetwork_config_dir = "{root / "networks"}"\n'
    )
    regs = "".join(f'[[registry]]\nlocation = "{r}"\ninsecure = true\n' for r in insecure_registries)
    (root / "registries.conf").write_text('unqualified-search-registries = []\n' + regs)
    env = dict(os.environ)
    env.update(
        CONTAINERS_CONF=str(root / "containers.conf"),
        CONTAINERS_STORAGE_CONF=str(root / "storage.conf"),
        CONTAINERS_REGISTRIES_CONF=str(root / "registries.conf"),
        REGISTRY_AUTH_FILE=str(root / "auth.json"),
        XDG_RUNTIME_DIR=str(root / "xdg"),
        TMPDIR=str(root / "tmp"),
    )
    (root / "auth.json").write_text('{"auths": {}}')
    (root / "xdg").mkdir(exist_ok=True)
    (root / "tmp").mkdir(exist_ok=True)
    penv = PodmanEnv(root, env)
    try:
        yield penv
    finally:
        if own:
            # storage is private and vfs (no mounts), so removing the folder removes everything;
            # `podman system reset` is avoided because it also touches host-wide network configs
            penv.run("buildah", "rm", "--all", check=False, timeout=60)
            shutil.rmtree(root, ignore_errors=True)


@dataclass
class Service:
    """A running engine API: ``url`` is ``unix:///...``."""

    url: str
    proc: subprocess.Popen[bytes]
    root: Path
    log: Path

    def stop(self) -> None:
        stop_process(self.proc)


@contextlib.contextmanager
def start_podman_service(penv: PodmanEnv) -> Iterator[Service]:
    """``podman system service`` on a unix socket: a Docker-compatible and a Podman API."""
    sock = penv.root / "podman.sock"
    log = penv.root / "podman-service.log"
    proc = _spawn(["podman", "system", "service", "--time=0", f"unix://{sock}"], log, env=penv.env)
    svc = Service(f"unix://{sock}", proc, penv.root, log)
    try:
        _wait(lambda: _unix_ready(sock, "/_ping"), "podman system service", proc, log, 30)
        yield svc
    finally:
        svc.stop()


def make_base_image(penv: PodmanEnv, registry_host: str, repo: str = BASE_IMAGE_REPO) -> str:
    """A busybox image made from scratch with buildah, pushed to the registry; returns its URI.

    No registry outside this machine is reachable, so every test image is built ``FROM`` this.
    """
    busybox = shutil.which("busybox")
    if busybox is None:
        raise EngineUnavailable("busybox not found on PATH; install it (Debian/Ubuntu: apt-get install busybox-static)")
    ctr = penv.run("buildah", "from", "scratch").stdout.strip()
    try:
        mnt = Path(penv.run("buildah", "mount", ctr).stdout.strip())
        (mnt / "bin").mkdir(exist_ok=True)
        (mnt / "tmp").mkdir(exist_ok=True)
        shutil.copy2(busybox, mnt / "bin" / "busybox")
        for tool in ("sh", "echo", "cat", "ls", "true", "false", "mkdir", "test", "sleep", "wc", "env", "sha256sum"):
            os.symlink("busybox", mnt / "bin" / tool)
        penv.run("buildah", "config", "--env", "PATH=/bin", "--cmd", "/bin/sh", ctr)
        uri = f"{registry_host}/{repo}:latest"
        penv.run("buildah", "commit", "--format", "docker", ctr, uri)
        penv.run("buildah", "push", "--tls-verify=false", "--format", "v2s2", uri, f"docker://{uri}")
        return uri
    finally:
        penv.run("buildah", "rm", ctr, check=False)


# -- dockerd ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def start_dockerd(root: Path | None = None) -> Iterator[Service]:
    """A private dockerd with the vfs driver, no bridge and no iptables changes."""
    need("dockerd", "containerd", "runc")
    own = root is None
    root = root or short_tmpdir("fldkr-")
    sock = root / "docker.sock"
    log = root / "dockerd.log"
    cmd = [
        "dockerd", "--host", f"unix://{sock}", "--data-root", str(root / "root"), "--exec-root", str(root / "exec"),
        "--pidfile", str(root / "pid"), "--iptables=false", "--ip6tables=false", "--ip-forward=false",
        "--ip-masq=false", "--bridge=none", "--storage-driver=vfs", "--config-file", str(root / "daemon.json"),
    ]
    (root / "daemon.json").write_text("{}")
    proc = _spawn(cmd, log)
    svc = Service(f"unix://{sock}", proc, root, log)
    try:
        _wait(lambda: _unix_ready(sock, "/_ping"), "dockerd", proc, log, 60)
        yield svc
    finally:
        svc.stop()
        netns = root / "exec" / "netns" / "default"
        if netns.exists():
            subprocess.run(["umount", str(netns)], capture_output=True, check=False, timeout=30)
        if own:
            subprocess.run(["umount", "-R", str(root / "root")], capture_output=True, check=False, timeout=30)
            shutil.rmtree(root, ignore_errors=True)


# -- stacks for BuilderConformance --------------------------------------------------------------------


@dataclass
class Stack:
    """Two registries (one with htpasswd authentication), a private podman set-up, a busybox base image
    pushed to the first registry, and an engine API service."""

    registry: Registry
    auth_registry: Registry
    podman: PodmanEnv
    service: Service
    base_image: str

    def target(self, builder: ImageBuilder, unavailable: ImageBuilder) -> BuilderTarget:
        """What :class:`flyte.testing.builders.BuilderConformance` needs, for ``builder`` on this stack."""
        from flyte.testing.builders import BuilderTarget

        return BuilderTarget(builder, self.registry.host, self.base_image, unavailable, self.auth_registry.host)


@contextlib.contextmanager
def _registries_and_podman() -> Iterator[tuple[Registry, Registry, PodmanEnv, str]]:
    from flyte.testing.builders import AUTH_PASSWORD, AUTH_USER

    with contextlib.ExitStack() as es:
        reg = es.enter_context(start_registry())
        auth = es.enter_context(start_registry(username=AUTH_USER, password=AUTH_PASSWORD))
        penv = es.enter_context(podman_env((reg.host, auth.host)))
        base = make_base_image(penv, reg.host)
        yield reg, auth, penv, base


@contextlib.contextmanager
def podman_stack() -> Iterator[Stack]:
    """Registries, a busybox base image and ``podman system service`` (Docker and Podman APIs).

    Raises :class:`EngineUnavailable` when a binary is missing or an engine does not start."""
    with _registries_and_podman() as (reg, auth, penv, base), start_podman_service(penv) as svc:
        yield Stack(reg, auth, penv, svc, base)


@contextlib.contextmanager
def dockerd_stack() -> Iterator[Stack]:
    """Registries, a busybox base image (made with buildah) and a private dockerd (vfs, no bridge).

    Raises :class:`EngineUnavailable` when a binary is missing or an engine does not start."""
    with _registries_and_podman() as (reg, auth, penv, base), start_dockerd() as svc:
        yield Stack(reg, auth, penv, svc, base)
