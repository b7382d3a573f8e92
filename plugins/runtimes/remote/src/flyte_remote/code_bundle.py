"""The code bundle: a deterministic gzip tarball of the folder holding the user's program.

Same files, same bytes, same digest, whatever the mtimes, owners, permissions beyond the execute
bit, directory order or machine: members are sorted by path, carry mtime 0, uid/gid 0, no user or
group names and mode 0644 (0755 when the owner may execute); the gzip header has mtime 0 and no
file name. The bundle is named by its MD5, which is also the key it is uploaded under, so an
unchanged program is never uploaded twice (the control plane answers "already there").

Left out:

- what ``.gitignore`` and ``.flyteignore`` files say (git's rules, in the root and in any
  subfolder, and in the folders above the root up to the git repository holding it; a file's
  patterns are relative to its folder; ``!`` re-includes; a folder that is ignored is not
  entered, so nothing inside it can be re-included, as in git);
- virtualenvs (any folder holding ``pyvenv.cfg``), VCS metadata and tool caches
  (:data:`ALWAYS_EXCLUDED_DIRS`), bytecode;
- symlinks whose target is outside the root or is a folder (a file link inside the tree is
  stored as a regular file with the target's content).

A bundle whose files add up to more than :data:`WARN_BYTES` (``FLYTE_BUNDLE_WARN_MB`` overrides)
raises :class:`BundleSizeWarning` naming the biggest files.

Example::

    bundle = build_bundle("my_project")
    print(bundle.path, bundle.md5, bundle.files)
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tarfile
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

#: Folder names never bundled, at any depth: VCS metadata, tool caches, virtualenvs by name.
ALWAYS_EXCLUDED_DIRS = frozenset({
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".cache", ".ipynb_checkpoints", ".eggs", "node_modules", ".idea", ".vscode", ".flyte",
})
#: File name endings never bundled (bytecode, editor swap files).
ALWAYS_EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".swp", ".DS_Store")
#: The ignore files read in every folder, in this order (a later file's patterns win).
IGNORE_FILES = (".gitignore", ".flyteignore")
#: Above this many bytes of files a :class:`BundleSizeWarning` is raised.
WARN_BYTES = 50 * 1024 * 1024
_BIGGEST_SHOWN = 5
_CHUNK = 1 << 20


class BundleSizeWarning(UserWarning):
    """The code bundle is bigger than the warning threshold; the message names the biggest files."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    md5: str  # hex
    files: int
    size: int  # bytes of the .tar.gz


class BundleFile(NamedTuple):
    rel: str  # POSIX path relative to the root
    path: str  # what to read (the link target for a file symlink)
    size: int
    executable: bool


# ---------------------------------------------------------------- gitignore rules


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool


def _glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            whole_part = (i == 0 or pattern[i - 1] == "/") and (i + 2 == n or pattern[i + 2] == "/")
            if pattern.startswith("**", i) and whole_part:
                if i + 2 == n:  # trailing "/**": everything inside
                    out.append(".*")
                    i += 2
                else:  # "**/": zero or more folders
                    out.append("(?:.*/)?")
                    i += 3
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 2)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def parse_ignore(lines: list[str]) -> list[_Rule]:
    """Compile the lines of one ``.gitignore``-style file (paths are matched relative to its folder)."""
    rules: list[_Rule] = []
    for raw in lines:
        line = raw.rstrip("\n").rstrip("\r")
        if not line or line.startswith("#"):
            continue
        # trailing spaces are dropped unless escaped
        while line.endswith(" ") and not line.endswith("\\ "):
            line = line[:-1]
        if not line:
            continue
        negated = line.startswith("!")
        if negated or line.startswith(("\\!", "\\#")):
            line = line[1:]
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        body = _glob_to_regex(line)
        regex = re.compile(("" if anchored else "(?:.*/)?") + body + r"\Z", re.DOTALL)
        rules.append(_Rule(regex, negated, dir_only))
    return rules


def _read_rules(folder: str) -> list[_Rule]:
    rules: list[_Rule] = []
    for name in IGNORE_FILES:
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            with open(p, encoding="utf-8", errors="replace") as f:
                rules.extend(parse_ignore(f.read().splitlines()))
    return rules


# ---------------------------------------------------------------- listing


def _ignored(rel: str, is_dir: bool, scopes: list[tuple[str, list[_Rule]]]) -> bool:
    """Git's decision for ``rel`` (POSIX, relative to the root): the last matching rule wins, deeper files last.

    A scope's base is the prefix of ``rel`` its file's folder stands for; a base starting with NUL
    is a folder above the root (:func:`_enclosing_scopes`) and carries the root's path from there."""
    decision = False
    for base, rules in scopes:
        sub = base[1:] + rel if base.startswith("\0") else rel[len(base):]
        for r in rules:
            if r.dir_only and not is_dir:
                continue
            if r.regex.match(sub):
                decision = not r.negated
    return decision


def _enclosing_scopes(top: Path) -> list[tuple[str, list[_Rule]]]:
    """The ignore files of the folders above ``top`` up to the git repository holding it (none outside
    one), outermost first: git applies a repository's .gitignore files to every folder under them."""
    if (top / ".git").exists():
        return []
    chain: list[Path] = []
    for folder in top.parents:
        chain.append(folder)
        if (folder / ".git").exists():
            break
    else:
        return []
    scopes: list[tuple[str, list[_Rule]]] = []
    for folder in reversed(chain):
        rules = _read_rules(str(folder))
        if rules:
            scopes.append(("\0" + top.relative_to(folder).as_posix() + "/", rules))
    return scopes


def bundle_files(root: str | os.PathLike[str]) -> list[BundleFile]:
    """The files of ``root`` that go into the bundle, sorted by their relative POSIX path."""
    top = Path(root).resolve()
    top_s = str(top)
    out: list[BundleFile] = []
    # (folder path, its POSIX prefix relative to the root, ignore scopes in effect there)
    stack: list[tuple[str, str, list[tuple[str, list[_Rule]]]]] = [(top_s, "", _enclosing_scopes(top))]
    while stack:
        folder, prefix, scopes = stack.pop()
        own = _read_rules(folder)
        if own:
            scopes = [*scopes, (prefix, own)]
        with os.scandir(folder) as it:
            entries = list(it)
        for entry in entries:
            name = entry.name
            rel = prefix + name
            try:
                if entry.is_symlink():
                    target = Path(entry.path).resolve()
                    if target != top and top not in target.parents:
                        continue  # a link leaving the tree: its content is not the project's
                    if not target.is_file():
                        continue  # links to folders could loop; the folder itself is bundled if inside
                    st = target.stat()
                    if not _ignored(rel, False, scopes) and not name.endswith(ALWAYS_EXCLUDED_SUFFIXES):
                        out.append(BundleFile(rel, str(target), st.st_size, bool(st.st_mode & stat.S_IXUSR)))
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if name in ALWAYS_EXCLUDED_DIRS or name.endswith(".egg-info"):
                        continue
                    if os.path.isfile(os.path.join(entry.path, "pyvenv.cfg")):
                        continue
                    if scopes and _ignored(rel, True, scopes):
                        continue
                    stack.append((entry.path, rel + "/", scopes))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue  # sockets, FIFOs, devices
                if name.endswith(ALWAYS_EXCLUDED_SUFFIXES):
                    continue
                if scopes and _ignored(rel, False, scopes):
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while we walked
            out.append(BundleFile(rel, entry.path, st.st_size, bool(st.st_mode & stat.S_IXUSR)))
    out.sort()  # by rel first: paths are unique
    return out


# ---------------------------------------------------------------- writing


def _warn_threshold() -> int:
    raw = os.environ.get("FLYTE_BUNDLE_WARN_MB")
    if raw:
        try:
            return int(float(raw) * 1024 * 1024)
        except ValueError:
            pass
    return WARN_BYTES


def _size_warning(root: Path, files: list[BundleFile], total: int, limit: int) -> None:
    biggest = sorted(files, key=lambda f: (-f.size, f.rel))[:_BIGGEST_SHOWN]
    shown = ", ".join(f"{f.rel} ({_human(f.size)})" for f in biggest)
    # About the project, not a line of Python (the bundle is built in a worker thread by `flyte run`).
    warnings.warn_explicit(
        BundleSizeWarning(
            f"The code bundle of {root} holds {_human(total)} in {len(files)} files (more than {_human(limit)}); "
            f"biggest: {shown}. Add what the tasks do not need to .flyteignore (or .gitignore)."
        ),
        BundleSizeWarning,
        "<flyte code bundle>",
        0,
    )


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


#: zlib level: 1 compresses source ~20% worse than 6 in a quarter of the time, and bundles are small.
COMPRESS_LEVEL = 1
_BLOCK = 512
_FLUSH_AT = 1 << 20


def _ustar_header(name: bytes, size: int, mode: int) -> bytes:
    """A ustar header with every varying field but name/size/mode zeroed (what tarfile writes for the same)."""
    h = bytearray(_BLOCK)
    h[0 : len(name)] = name
    h[100:108] = b"%07o\0" % mode
    h[108:116] = b"0000000\0"  # uid
    h[116:124] = b"0000000\0"  # gid
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"00000000000\0"  # mtime
    h[148:156] = b"        "  # checksum placeholder
    h[156] = ord("0")
    h[257:265] = b"ustar\x0000"
    h[329:337] = b"0000000\0"  # devmajor
    h[337:345] = b"0000000\0"  # devminor
    h[148:155] = b"%06o\0" % sum(h)
    return bytes(h)


def _header(f: BundleFile, size: int) -> bytes:
    name = f.rel.encode("utf-8", "surrogateescape")
    mode = 0o755 if f.executable else 0o644
    if len(name) <= 100 and name.isascii() and size < 8**11:
        return _ustar_header(name, size, mode)
    info = tarfile.TarInfo(f.rel)  # long or non-ASCII name, huge file: a PAX header first
    info.size, info.mode, info.mtime = size, mode, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


class _GzipOut:
    """gzip framing written by hand: fixed header (no name, mtime 0, OS unknown), raw deflate, CRC32 + size."""

    def __init__(self, out: IO[bytes]) -> None:
        import zlib

        self.out = out
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.crc = 0
        self.length = 0
        self.zlib = zlib
        self.z = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
        xfl = b"\x04" if COMPRESS_LEVEL == 1 else b"\x02" if COMPRESS_LEVEL == 9 else b"\x00"
        self._emit(b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + xfl + b"\xff")
        self.pending: list[bytes] = []
        self.pending_len = 0

    def _emit(self, data: bytes) -> None:
        if data:
            self.md5.update(data)
            self.out.write(data)

    def write(self, data: bytes) -> None:
        self.pending.append(data)
        self.pending_len += len(data)
        if self.pending_len >= _FLUSH_AT:
            self._compress()

    def _compress(self) -> None:
        if not self.pending:
            return
        data = b"".join(self.pending)
        self.pending, self.pending_len = [], 0
        self.crc = self.zlib.crc32(data, self.crc)
        self.length += len(data)
        self._emit(self.z.compress(data))

    def close(self) -> str:
        import struct

        self._compress()
        self._emit(self.z.flush())
        self._emit(struct.pack("<II", self.crc & 0xFFFFFFFF, self.length & 0xFFFFFFFF))
        return self.md5.hexdigest()


def write_bundle(files: list[BundleFile], out: IO[bytes]) -> str:
    """Write the deterministic tar.gz of ``files`` to ``out``; the hex MD5 of what was written."""
    gz = _GzipOut(out)
    for f in files:
        fd = os.open(f.path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size  # the size now, not when listed: a member is never corrupt
            if size <= _FLUSH_AT:
                data = os.read(fd, size)
                while len(data) < size:
                    more = os.read(fd, size - len(data))
                    if not more:
                        raise OSError(f"{f.path} shrank while it was being bundled; try again")
                    data += more
                gz.write(_header(f, size))
                gz.write(data)
            else:
                gz.write(_header(f, size))
                left = size
                while left:
                    chunk = os.read(fd, min(_CHUNK, left))
                    if not chunk:
                        raise OSError(f"{f.path} shrank while it was being bundled; try again")
                    gz.write(chunk)
                    left -= len(chunk)
        finally:
            os.close(fd)
        pad = -size % _BLOCK
        if pad:
            gz.write(b"\0" * pad)
    gz.write(b"\0" * (2 * _BLOCK))  # end of archive
    return gz.close()


def _prune(folder: Path, max_age: float = 24 * 3600) -> None:
    """Drop bundles of the shared temporary folder not written for a day (each code version leaves one)."""
    import time

    cutoff = time.time() - max_age
    for p in folder.glob("*.tar.gz"):
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
        except OSError:
            pass  # another process's, or already gone


def build_bundle(root: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> Bundle:
    """Bundle ``root`` into ``out_dir/<md5>.tar.gz`` (a temporary folder by default). See the module docstring."""
    top = Path(root).resolve()
    if not top.is_dir():
        raise NotADirectoryError(f"Cannot bundle {top}: it is not a folder")
    files = bundle_files(top)
    folder = Path(out_dir) if out_dir is not None else Path(tempfile.gettempdir()) / "flyte-bundles"
    folder.mkdir(parents=True, exist_ok=True)
    if out_dir is None:
        _prune(folder)
    resolved_folder = folder.resolve()
    if resolved_folder == top or top in resolved_folder.parents:
        prefix = resolved_folder.relative_to(top).as_posix() + "/"
        files = [f for f in files if not f.rel.startswith(prefix)]
    total = sum(f.size for f in files)
    limit = _warn_threshold()
    if total > limit:
        _size_warning(top, files, total, limit)
    fd, tmp = tempfile.mkstemp(prefix=".bundle-", suffix=".tar.gz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            md5 = write_bundle(files, out)
        path = folder / f"{md5}.tar.gz"
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Bundle(path=path, md5=md5, files=len(files), size=path.stat().st_size)


# ---------------------------------------------------------------- uploads already made


class UploadedBundles:
    """Where this machine has put bundles: native URL -> MD5 of the bytes PUT there.

    A bundle's key holds its MD5 (``<md5>/code.tar.gz``), yet a control plane answers
    CreateUploadLocation with a fresh signed URL either way (Flyte's DataProxy lets the same bytes
    be written again), so only the client can tell that the PUT is unnecessary. The native URL
    names the control plane's storage (bucket or folder), org, project and domain, so a hit means
    these exact bytes were written to that exact object. One small JSON file in ``$FLYTE_HOME``
    (``~/.flyte``); ``FLYTE_BUNDLE_CACHE=0`` turns it off (e.g. after emptying a bucket by hand).
    """

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            from flyte.config import flyte_home

            path = flyte_home() / "code-bundles.json"
        self.path = path

    @staticmethod
    def enabled() -> bool:
        return os.environ.get("FLYTE_BUNDLE_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")

    def _load(self) -> dict[str, str]:
        import json

        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def holds(self, native_url: str, md5: str) -> bool:
        return self.enabled() and self._load().get(native_url) == md5

    def add(self, native_url: str, md5: str) -> None:
        if not self.enabled():
            return
        import json

        data = self._load()
        data.pop(native_url, None)
        data[native_url] = md5
        if len(data) > 2000:  # keep the newest (dicts keep insertion order)
            data = dict(list(data.items())[-1000:])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".code-bundles-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, self.path)
        except OSError:
            pass  # an unwritable home only costs a PUT next time


@dataclass(frozen=True)
class UploadResult:
    native_url: str
    skipped: bool


async def upload_bundle_to(
    dataproxy: Any, bundle: Bundle, *, org: str, project: str, domain: str,
    timeout: float | None = 30.0, cache: UploadedBundles | None = None,
) -> UploadResult:
    """Upload ``bundle`` to ``<md5>/code.tar.gz`` through DataProxy: CreateUploadLocation, then a signed
    PUT carrying Content-MD5, skipped when that digest is already there (the control plane says so
    with no signed URL or ALREADY_EXISTS, or this machine PUT these bytes to that native URL)."""
    import base64

    from flyte.storage.dataproxy import AlreadyExists, StubAdapter, provider_put_headers
    from flyte.storage.errors import StorageError
    from flyteidl2.dataproxy.dataproxy_service_pb2 import CreateUploadLocationRequest
    from google.protobuf.duration_pb2 import Duration

    cache = cache if cache is not None else UploadedBundles()
    digest = bytes.fromhex(bundle.md5)
    md5_b64 = base64.b64encode(digest).decode()
    req = CreateUploadLocationRequest(
        project=project, domain=domain, org=org, filename="code.tar.gz", filename_root=bundle.md5,
        content_md5=digest, content_length=bundle.size, add_content_md5_metadata=True,
        expires_in=Duration(seconds=3600),
    )
    adapter = StubAdapter(dataproxy, timeout=timeout)
    try:
        resp = await adapter.create_upload_location(req)
    except AlreadyExists as e:
        if e.native_url:
            return UploadResult(e.native_url, skipped=True)
        raise StorageError(
            f"The control plane says the code bundle {bundle.md5} is already uploaded but not where; "
            "upgrade the control plane."
        ) from None
    if not resp.signed_url or cache.holds(resp.native_url, bundle.md5):
        return UploadResult(resp.native_url, skipped=True)
    from flyte.storage.signed_url import put_file  # httpx: imported only when there is something to PUT

    headers = provider_put_headers(resp.native_url, resp.signed_url, bundle.size, md5_b64)
    headers.update(dict(resp.headers))
    await put_file(resp.signed_url, bundle.path, headers=headers, content_md5=md5_b64)
    cache.add(resp.native_url, bundle.md5)
    return UploadResult(resp.native_url, skipped=False)
