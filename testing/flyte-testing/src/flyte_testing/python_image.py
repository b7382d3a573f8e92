"""A base image with this machine's Python and the installed flyte-core, made without any registry.

No registry outside this machine is reachable, so images whose tasks must really run (the devbox's
container executor, a remote build whose RUN step runs Python) start ``FROM`` this one. It holds:

- the running interpreter's installation (``sys.base_prefix``, at the same path, with
  ``/usr/local/bin/python3`` and ``python`` linking to it), without its test suite, tkinter,
  idlelib, ensurepip and ``site-packages``;
- in that interpreter's ``site-packages``: flyte-core, flyte-grpc (the admin transport task
  containers use for child actions) and the distributions they need, copied from the current
  environment (an editable install's package folder is copied as a normal package);
- ``flyte`` and ``flyte-core-worker`` in ``/usr/local/bin``;
- the shared libraries all of that links to (``ldd``), and busybox as ``/bin/sh`` and a few tools
  (Dockerfile ``RUN`` steps need a shell).

The root file system is written once as a tarball under a cache folder (``FLYTE_TESTING_CACHE``,
default ``~/.cache/flyte-testing``), keyed by a hash of every file that goes in: a test session
after the first one reuses it. :func:`push_python_base` turns it into an image in a registry with
buildah (a few seconds).

Example::

    tar = python_rootfs()
    uri = push_python_base(stack.podman, stack.registry.host, tar)
    image = flyte.Image.from_base(uri).with_commands(["echo hi > /greeting"])
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from flyte_testing.engines import EngineUnavailable

if TYPE_CHECKING:
    from flyte_testing.engines import PodmanEnv, Stack

PYTHON_BASE_REPO = "flyte-test/python"
#: The distributions the image is made of (with everything they require).
ROOT_DISTRIBUTIONS = ("flyte-core", "flyte-grpc")
_STDLIB_SKIP = {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3"}
# Bytecode of this interpreter goes in (each container would otherwise compile flyte and grpc again at every
# start); optimised variants do not.
_PYC = f".cpython-{sys.version_info.major}{sys.version_info.minor}.pyc"
_BUSYBOX_TOOLS = ("sh", "echo", "cat", "ls", "true", "false", "mkdir", "test", "sleep", "env", "rm", "cp", "id")
_FORMAT = "5"  # bump when the layout changes: old cached tarballs are then not reused


def cache_dir() -> Path:
    d = Path(os.environ.get("FLYTE_TESTING_CACHE") or Path.home() / ".cache" / "flyte-testing")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(roots: Iterable[str] = ROOT_DISTRIBUTIONS) -> list[md.Distribution]:
    """``roots`` and the closure of what they require (markers evaluated here, extras not followed)."""
    from packaging.requirements import Requirement

    seen: dict[str, md.Distribution] = {}
    todo = list(roots)
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError as e:
            raise EngineUnavailable(f"{name} is not installed in {sys.prefix}; the python base image needs it") from e
        seen[name] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            todo.append(req.name)
    return [seen[k] for k in sorted(seen)]


def _site_packages() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"])


def _editable_roots(dist: md.Distribution) -> list[Path]:
    """Folders an editable install puts on sys.path (its ``.pth`` lines)."""
    out: list[Path] = []
    for f in dist.files or []:
        if f.name.endswith(".pth"):
            for line in Path(str(dist.locate_file(f))).read_text().splitlines():
                line = line.strip()
                if line and not line.startswith(("#", "import")) and Path(line).is_dir():
                    out.append(Path(line))
    return out


def _members(prefix: Path, site: Path, dists: list[md.Distribution]) -> Iterator[tuple[Path, str]]:
    """(source file, path in the image) for everything of the interpreter and the distributions."""
    target_site = f"{prefix}/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
    for src in sorted(prefix.rglob("*")):
        rel = src.relative_to(prefix)
        parts = rel.parts
        if parts[0] not in ("bin", "lib"):
            continue
        if parts[0] == "lib" and len(parts) > 1 and parts[1].startswith("python3"):
            if len(parts) > 2 and (parts[2] in _STDLIB_SKIP or parts[2].startswith("config-")):
                continue
            if not _wanted(parts) or parts[-1].startswith("_tkinter"):
                continue
        elif parts[0] == "lib" and len(parts) > 1 and not (parts[1].startswith("libpython") and ".so" in parts[1]):
            continue
        if parts[0] == "bin" and (not parts[-1].startswith("python") or parts[-1].endswith("-config")):
            continue
        if src.is_file() or src.is_symlink():
            yield src, f"{prefix}/{rel}"
    for dist in dists:
        roots = _editable_roots(dist)
        for root in roots:
            for src in sorted(root.rglob("*")):
                if src.is_file() and _wanted(src.parts):
                    yield src, f"{target_site}/{src.relative_to(root)}"
        for f in dist.files or []:
            src = Path(str(dist.locate_file(f))).resolve()
            try:
                rel = src.relative_to(site)
            except ValueError:
                continue  # console scripts in bin/: written fresh below
            if not _wanted(rel.parts) or (rel.name.endswith(".pth") and roots):
                continue
            if src.is_file():
                yield src, f"{target_site}/{rel}"


def _wanted(parts: tuple[str, ...]) -> bool:
    """Not bytecode, or this interpreter's plain bytecode in a ``__pycache__`` folder."""
    if "__pycache__" not in parts and not parts[-1].endswith(".pyc"):
        return True
    return parts[-2:-1] == ("__pycache__",) and parts[-1].endswith(_PYC)


def _stripped(src: Path, tmp: Path) -> Path:
    """A copy of the shared library ``src`` without its symbol tables (libpython: 23 MB -> 6 MB), if strip exists."""
    strip = shutil.which("strip")
    if strip is None:
        return src
    out = tmp / src.name
    shutil.copy2(src, out)
    if subprocess.run([strip, "--strip-unneeded", str(out)], capture_output=True, timeout=60).returncode != 0:
        return src
    return out


def _console_scripts(prefix: Path, dists: list[md.Distribution]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    python = f"{prefix}/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    for dist in dists:
        for ep in dist.entry_points.select(group="console_scripts"):
            module, _, attr = ep.value.partition(":")
            out[f"usr/local/bin/{ep.name}"] = (
                f"#!{python}\nimport sys\nfrom {module} import {attr.split('.')[0]}\n"
                f"sys.exit({attr}())\n"
            ).encode()
    return out


def _shared_libraries(files: Iterable[Path]) -> set[Path]:
    """Every shared library the ELF files among ``files`` need, by ``ldd`` (the loader included)."""
    need: set[Path] = set()
    elf = [f for f in files if f.suffix == ".so" or ".so." in f.name or f.parent.name == "bin"]
    for f in elf:
        try:
            with f.open("rb") as fh:
                if fh.read(4) != b"\x7fELF":
                    continue
        except OSError:
            continue
        r = subprocess.run(["ldd", str(f)], capture_output=True, text=True, timeout=30, check=False)
        for line in r.stdout.splitlines():
            m = re.search(r"(/\S+)\s+\(0x", line)
            if m:
                need.add(Path(m.group(1)))
    return need


Members = list[tuple[Path, str]]


def _zip_plan(prefix: Path, pairs: Members) -> tuple[Members, dict[str, Members]]:
    """Which files stay files and which go into zip archives, by archive path.

    A container engine with the vfs storage driver copies the whole image for every container, and the
    copy costs per file: the standard library goes into ``lib/pythonXY.zip`` (on ``sys.path`` by default;
    ``os.py`` stays as the landmark that locates the prefix) and pure-Python distributions into one archive
    in site-packages named by a ``.pth`` file. What loads shared objects, namespace packages, flyte-core's and
    flyte-grpc's packages and every ``.dist-info`` (entry points) stay files. A ``__pycache__/m.cpython-XY.pyc``
    goes in as ``m.pyc`` beside ``m.py``, where zipimport uses it.
    """
    major, minor = sys.version_info.major, sys.version_info.minor
    stdlib = f"{prefix}/lib/python{major}.{minor}/"
    site = f"{stdlib}site-packages/"
    std_zip = f"{prefix}/lib/python{major}{minor}.zip"
    site_zip = f"{site}{_SITE_ZIP}"
    tops: dict[str, list[tuple[Path, str]]] = {}
    for src, dst in pairs:
        if dst.startswith(site):
            tops.setdefault(dst[len(site):].split("/", 1)[0], []).append((src, dst))
    keep_tops = {t for t, items in tops.items()
                 if t.endswith((".dist-info", ".pth")) or t.split(".")[0] in ("flyte", "flyte_grpc")
                 or any(".so" in Path(d).name for _, d in items)
                 or ("/" in items[0][1][len(site):] and not any(d == f"{site}{t}/__init__.py" for _, d in items))}
    files: list[tuple[Path, str]] = []
    zips: dict[str, list[tuple[Path, str]]] = {std_zip: [], site_zip: []}
    for src, dst in pairs:
        if dst.startswith(site):
            if dst[len(site):].split("/", 1)[0] in keep_tops:
                files.append((src, dst))
            else:
                zips[site_zip].append((src, _legacy_pyc(dst[len(site):])))
        elif dst.startswith(stdlib) and not dst.startswith(f"{stdlib}lib-dynload/") and not src.is_symlink():
            if dst == f"{stdlib}os.py":
                files.append((src, dst))
            zips[std_zip].append((src, _legacy_pyc(dst[len(stdlib):])))
        else:
            files.append((src, dst))
    return files, zips


_SITE_ZIP = "flyte-testing-deps.zip"


def _legacy_pyc(rel: str) -> str:
    parts = rel.split("/")
    if len(parts) > 1 and parts[-2] == "__pycache__" and parts[-1].endswith(_PYC):
        return "/".join([*parts[:-2], parts[-1][: -len(_PYC)] + ".pyc"])
    return rel


def _write_zip(members: list[tuple[Path, str]]) -> bytes:
    import time
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for src, arc in sorted(members, key=lambda m: m[1]):
            # zipimport checks a .pyc against its .py's time in the archive, read as local time: containers
            # run in UTC, so the entries carry UTC times.
            info = zipfile.ZipInfo(arc, date_time=time.gmtime(max(src.stat().st_mtime, 315532800))[:6])
            zf.writestr(info, src.read_bytes())
    return buf.getvalue()


def _content_key(pairs: list[tuple[Path, str]]) -> str:
    h = hashlib.sha256(_FORMAT.encode())
    for src, dst in pairs:
        st = src.lstat()
        h.update(f"{dst}\0{st.st_size}\0{int(st.st_mtime)}\n".encode())
    return h.hexdigest()[:16]


def python_rootfs(cache: Path | None = None) -> Path:
    """The root file system tarball of the python base image (built once, then taken from the cache)."""
    if shutil.which("ldd") is None:
        raise EngineUnavailable("ldd not found on PATH; install it (Debian/Ubuntu: apt-get install libc-bin)")
    busybox = shutil.which("busybox")
    if busybox is None:
        raise EngineUnavailable("busybox not found on PATH; install it (Debian/Ubuntu: apt-get install busybox-static)")
    prefix = Path(sys.base_prefix)
    dists = distributions()
    pairs = list(_members(prefix, _site_packages(), dists))
    cache = cache or cache_dir()
    out = cache / f"python-base-{_content_key(pairs)}.tar"
    if out.exists():
        return out
    libs = _shared_libraries(src.resolve() for src, _ in pairs)
    tmp = Path(tempfile.mkstemp(prefix="python-base-", suffix=".tar.part", dir=cache)[1])
    try:
        with tarfile.open(tmp, "w") as tar:
            for d in ("tmp", "bin", "usr/local/bin", "etc", "root"):
                info = tarfile.TarInfo(d)
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
                tar.addfile(info)
            on_disk, zips = _zip_plan(prefix, pairs)
            for arc, members in zips.items():
                data = _write_zip(members)
                info = tarfile.TarInfo(arc.lstrip("/"))
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
            site_zip = next(a for a in zips if a.endswith(_SITE_ZIP))
            pth = _SITE_ZIP.encode() + b"\n"  # a .pth line is a path relative to site-packages
            info = tarfile.TarInfo(site_zip.lstrip("/").removesuffix(".zip") + ".pth")
            info.size, info.mode = len(pth), 0o644
            tar.addfile(info, io.BytesIO(pth))
            for src, dst in on_disk:
                if src.name.startswith("libpython") and src.is_file() and not src.is_symlink():
                    src = _stripped(src, Path(tempfile.mkdtemp(dir=cache)))
                tar.add(str(src), arcname=dst.lstrip("/"), recursive=False)
                if src.parent.parent == cache:
                    shutil.rmtree(src.parent, ignore_errors=True)
            inside = {dst for _, dst in pairs}
            for lib in sorted(lib for lib in libs if str(lib) not in inside):
                tar.add(str(lib.resolve()), arcname=str(lib).lstrip("/"), recursive=False)
            tar.add(busybox, arcname="bin/busybox")
            for tool in _BUSYBOX_TOOLS:
                info = tarfile.TarInfo(f"bin/{tool}")
                info.type, info.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(info)
            minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
            for name in ("python3", "python", minor):
                info = tarfile.TarInfo(f"usr/local/bin/{name}")
                info.type, info.linkname = tarfile.SYMTYPE, f"{prefix}/bin/{minor}"
                tar.addfile(info)
            files = {
                **_console_scripts(prefix, dists),
                "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
                "etc/group": b"root:x:0:\nnogroup:x:65534:\n",
            }
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o755 if name.startswith("usr/local/bin") else 0o644
                tar.addfile(info, io.BytesIO(data))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    # flyte-core's sources change often: keep the newest few tarballs, not one per change
    old = sorted(cache.glob("python-base-*.tar"), key=lambda p: p.stat().st_mtime, reverse=True)[3:]
    for stale in old:
        stale.unlink(missing_ok=True)
    return out


def push_python_base(
    penv: PodmanEnv, registry_host: str, rootfs: Path, repo: str = PYTHON_BASE_REPO,
    login: tuple[str, str] | None = None,
) -> str:
    """Commit ``rootfs`` as an image with buildah and push it to ``registry_host``; returns its URI.

    The tag is the tarball's content key, so one registry holds one image per content. ``login``
    (user, password) logs in first (into the podman env's auth file; the password goes through stdin).
    """
    if login is not None:
        r = subprocess.run(["buildah", "login", "--tls-verify=false", "--username", login[0], "--password-stdin",
                            registry_host], input=login[1], env=penv.env, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"buildah login {registry_host} failed: {r.stderr.strip()[-500:]}")
    tag = rootfs.stem.removeprefix("python-base-")
    uri = f"{registry_host}/{repo}:{tag}"
    ctr = penv.run("buildah", "from", "scratch").stdout.strip()
    try:
        mnt = Path(penv.run("buildah", "mount", ctr).stdout.strip())
        with tarfile.open(rootfs) as tar:
            tar.extractall(mnt, filter="fully_trusted")
        penv.run("buildah", "config", "--env", "PATH=/usr/local/bin:/bin", "--env", "LANG=C.UTF-8",
                 "--workingdir", "/", "--cmd", "python3", ctr)
        penv.run("buildah", "commit", "--format", "docker", ctr, uri, timeout=300)
        penv.run("buildah", "push", "--tls-verify=false", "--format", "v2s2", uri, f"docker://{uri}", timeout=300)
        return uri
    finally:
        penv.run("buildah", "rm", ctr, check=False)


class PythonBase:
    """What the ``python_base`` fixture gives: the cached root file system and, per stack, its image.

    ``python_base.image(stack)`` pushes it to ``stack.registry`` once (per registry) and returns the URI;
    build task images ``FROM`` it (``flyte.Image.from_base(uri)``).
    """

    def __init__(self, rootfs: Path) -> None:
        self.rootfs = rootfs
        self._pushed: dict[str, str] = {}

    def image(self, stack: Stack) -> str:
        host = stack.registry.host
        if host not in self._pushed:
            self._pushed[host] = push_python_base(stack.podman, host, self.rootfs)
        return self._pushed[host]
