"""Moving files and directories between local disk and a backend's filesystem.

Everything streams: files go in parts (the backend picks multipart / resumable / staged
blocks above ``part_size``), and a directory moves with at most ``file_concurrency``
files and about ``memory_budget`` bytes in flight. Local files are written under a
temporary name and renamed when complete, so a failed download never leaves a
partial file that looks finished; remote objects only appear when the provider
completes the (multipart) upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import shutil
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from flyte.storage.errors import UnsafeKeyError
from flyte.storage.progress import FsspecCallback, Progress
from flyte.storage.redaction import redact_url

if TYPE_CHECKING:
    import fsspec

    from flyte.storage.backend import StorageBackend

T = TypeVar("T")
MiB = 1 << 20
MEMORY_BUDGET = 96 * MiB
COPY_CHUNK = 4 * MiB


@dataclass
class Endpoint:
    """A backend, its filesystem and the path in that filesystem's terms."""

    backend: StorageBackend
    fs: fsspec.AbstractFileSystem
    url: str
    path: str

    @property
    def is_async(self) -> bool:
        return bool(getattr(self.fs, "async_impl", False)) and getattr(self.fs, "loop", None) is not None


async def on_fs_loop(fs: Any, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine of an async fsspec filesystem on that filesystem's own event loop.

    Sync-mode fsspec instances own a loop in a background thread with their HTTP
    session bound to it; running their coroutines on the caller's loop would break.
    """
    loop = fs.loop
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        return await make()
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), loop))


def _part_name(dst: str) -> str:
    d, base = os.path.split(dst)
    return os.path.join(d, f".{base}.part-{uuid.uuid4().hex[:12]}")


class _Limiter:
    """At most ``files`` transfers and about ``budget`` bytes of buffers in flight."""

    def __init__(self, files: int, budget: int) -> None:
        self.sem = asyncio.Semaphore(max(1, files))
        self.budget = budget
        self.used = 0
        self.cond = asyncio.Condition()

    async def run(self, cost: int, make: Callable[[], Awaitable[T]]) -> T:
        cost = min(cost, self.budget)
        async with self.sem:
            async with self.cond:
                await self.cond.wait_for(lambda: self.used == 0 or self.used + cost <= self.budget)
                self.used += cost
            try:
                return await make()
            finally:
                async with self.cond:
                    self.used -= cost
                    self.cond.notify_all()


def _cost(backend: StorageBackend, size: int) -> int:
    if size < 2 * backend.part_size:
        return max(size, 64 * 1024)
    return backend.part_size * backend.part_concurrency


# -- single files ------------------------------------------------------------------


def _local_copy(src: str, dst: str, progress: Progress) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = _part_name(os.path.abspath(dst))
    try:
        with open(src, "rb") as fi, open(tmp, "wb") as fo:
            while True:
                chunk = fi.read(COPY_CHUNK)
                if not chunk:
                    break
                fo.write(chunk)
                progress.advance(len(chunk))
        shutil.copystat(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        _remove_quietly(tmp)
        raise


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


class _FileProgress:
    """Counts one file's reported bytes so the total can be made exact when it completes
    (some filesystems report only some of their parts)."""

    def __init__(self, outer: Progress) -> None:
        self.outer = outer
        self.seen = 0

    def start(self, description: str, total_bytes: int | None, total_files: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        self.seen += nbytes
        self.outer.advance(nbytes)

    def finish(self) -> None:
        pass

    def complete(self, size: int | None) -> None:
        if size is not None and size > self.seen:
            self.outer.advance(size - self.seen)
            self.seen = size


async def _async_put_file(ep: Endpoint, src: str, dst: str, size: int, progress: Progress) -> None:
    fp = _FileProgress(progress)
    await ep.fs._put_file(src, dst, callback=FsspecCallback(fp), **ep.backend.put_file_kwargs(size))
    fp.complete(size)


async def _async_get_file(ep: Endpoint, src: str, dst: str, size: int | None, progress: Progress) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = _part_name(os.path.abspath(dst))
    try:
        fp = _FileProgress(progress)
        await ep.fs._get_file(src, tmp, callback=FsspecCallback(fp), **ep.backend.get_file_kwargs(size))
        if not os.path.exists(tmp):  # zero-byte objects: some filesystems write nothing
            open(tmp, "wb").close()
        os.replace(tmp, dst)
        fp.complete(os.path.getsize(dst))
    except BaseException:
        _remove_quietly(tmp)
        raise


def _sync_put_file(ep: Endpoint, src: str, dst: str, progress: Progress) -> None:
    if ep.backend.protocols and "file" in ep.backend.protocols:
        _local_copy(src, dst, progress)
    else:
        ep.fs.put_file(src, dst, callback=FsspecCallback(progress))


def _sync_get_file(ep: Endpoint, src: str, dst: str, progress: Progress) -> None:
    if ep.backend.protocols and "file" in ep.backend.protocols:
        _local_copy(src, dst, progress)
        return
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    tmp = _part_name(os.path.abspath(dst))
    try:
        ep.fs.get_file(src, tmp, callback=FsspecCallback(progress))
        os.replace(tmp, dst)
    except BaseException:
        _remove_quietly(tmp)
        raise


async def upload_file(ep: Endpoint, src: str, progress: Progress) -> None:
    size = os.path.getsize(src)
    progress.start(f"Uploading {os.path.basename(src)}", size, 1)
    try:
        if ep.is_async:
            await on_fs_loop(ep.fs, lambda: _async_put_file(ep, src, ep.path, size, progress))
        else:
            await asyncio.to_thread(_sync_put_file, ep, src, ep.path, progress)
    finally:
        progress.finish()


async def download_file(ep: Endpoint, dst: str, progress: Progress, size: int | None = None) -> None:
    progress.start(f"Downloading {os.path.basename(dst)}", size, 1)
    try:
        if ep.is_async:
            await on_fs_loop(ep.fs, lambda: _async_get_file(ep, ep.path, dst, size, progress))
        else:
            await asyncio.to_thread(_sync_get_file, ep, ep.path, dst, progress)
    finally:
        progress.finish()


# -- directories -------------------------------------------------------------------


def local_tree(root: str) -> list[tuple[str, str, int]]:
    """(absolute path, relative posix path, size) of every file under ``root``."""
    out: list[tuple[str, str, int]] = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            out.append((full, rel, os.path.getsize(full)))
    out.sort(key=lambda t: t[1])
    return out


def safe_local_path(root: str, rel: str, url: str) -> str:
    """Where the object ``rel`` (its key relative to the folder ``url``) goes under ``root``.

    The key is normalised (``a/./b``, ``a//b`` and ``a/x/../b`` are fine); a key that is
    absolute, still has ``..`` components, names the folder itself, or whose parent resolves
    outside ``root`` (a symbolic link already there) raises :class:`UnsafeKeyError`: object keys
    are arbitrary strings, and a folder download must never write outside its destination.
    """

    def refuse(why: str) -> UnsafeKeyError:
        where = redact_url(url)
        return UnsafeKeyError(
            f"Refusing to download {where} into {root}: the object key {rel!r} under it {why}. Nothing was downloaded.",
            url=where,
            key=rel,
        )

    text = rel
    for sep in {os.sep, os.altsep} - {None, "/"}:
        text = text.replace(str(sep), "/")  # on Windows a backslash separates too
    if text.startswith("/") or os.path.isabs(rel) or os.path.splitdrive(rel)[0]:
        raise refuse("is an absolute path")
    norm = posixpath.normpath(text)
    parts = norm.split("/")
    if norm == "." or ".." in parts:
        raise refuse("points outside the destination ('..')" if ".." in parts else "names the folder itself")
    target = os.path.join(root, *parts)
    root_real = os.path.realpath(root)
    parent_real = os.path.realpath(os.path.dirname(target))
    if parent_real != root_real and not parent_real.startswith(root_real.rstrip(os.sep) + os.sep):
        raise refuse(f"resolves outside the destination (to {parent_real}, through a symbolic link)")
    return target


def local_targets(url: str, dst: str, objects: Sequence[tuple[str, str, int | None]]) -> list[str]:
    """The local path of each object of a folder download, all checked before anything is written."""
    out: list[str] = []
    seen: dict[str, str] = {}
    for _, rel, _ in objects:
        target = safe_local_path(dst, rel, url)
        other = seen.setdefault(os.path.normcase(target), rel)
        if other != rel:
            raise UnsafeKeyError(
                f"Refusing to download {redact_url(url)} into {dst}: the object keys {other!r} and {rel!r} "
                "under it are the same local file. Nothing was downloaded.",
                url=redact_url(url),
                key=rel,
            )
        out.append(target)
    return out


def _join(base: str, rel: str) -> str:
    return base.rstrip("/") + "/" + rel


async def upload_dir(ep: Endpoint, src: str, progress: Progress, concurrency: int | None = None) -> int:
    """Upload every file under ``src`` to ``ep.path/<relative path>``; return the file count."""
    files = local_tree(src)
    progress.start(f"Uploading {os.path.basename(os.path.normpath(src))}", sum(s for _, _, s in files), len(files))
    limit = concurrency or ep.backend.file_concurrency
    try:
        if ep.is_async:

            async def all_files() -> None:
                lim = _Limiter(limit, MEMORY_BUDGET)
                await _gather_all(
                    lim.run(
                        _cost(ep.backend, size),
                        partial(_async_put_file, ep, full, _join(ep.path, rel), size, progress),
                    )
                    for full, rel, size in files
                )

            await on_fs_loop(ep.fs, all_files)
        else:
            jobs = [partial(_sync_put_file, ep, full, _join(ep.path, rel), progress) for full, rel, _ in files]
            await _threaded(jobs, limit)
    finally:
        progress.finish()
    return len(files)


async def remote_tree(ep: Endpoint) -> list[tuple[str, str, int | None]]:
    """(filesystem path, relative key, size) of every object under ``ep.path``.

    The relative key is the object's, verbatim: it may be ``/abs`` or hold ``..`` (keys are
    arbitrary strings). Anything that writes locally goes through :func:`local_targets`.
    """
    fs = ep.fs

    def rel_of(found: dict[str, Any]) -> list[tuple[str, str, int | None]]:
        base = fs._strip_protocol(ep.path).rstrip("/")
        out = []
        for p, info in found.items():
            if info.get("type") == "directory":
                continue
            stripped = fs._strip_protocol(p)
            if not stripped.startswith(base + "/"):
                continue
            out.append((p, stripped[len(base) + 1 :], info.get("size")))
        out.sort(key=lambda t: t[1])
        return out

    if ep.is_async:
        found = await on_fs_loop(fs, lambda: fs._find(ep.path, detail=True))
    else:
        found = await asyncio.to_thread(fs.find, ep.path, detail=True)
    return rel_of(found)


async def download_dir(ep: Endpoint, dst: str, progress: Progress, concurrency: int | None = None) -> int:
    """Download every object under ``ep.path`` to ``dst/<relative path>``; return the file count."""
    objects = await remote_tree(ep)
    if not objects:
        raise FileNotFoundError(f"Nothing to download under {ep.url}")
    targets = local_targets(ep.url, dst, objects)  # refuses escaping keys before writing anything
    sizes = [s for _, _, s in objects]
    total = sum(s or 0 for s in sizes) if all(s is not None for s in sizes) else None
    os.makedirs(dst, exist_ok=True)
    for d in sorted({os.path.dirname(t) for t in targets}):
        os.makedirs(d, exist_ok=True)
    progress.start(f"Downloading {os.path.basename(os.path.normpath(dst))}", total, len(objects))
    limit = concurrency or ep.backend.file_concurrency
    try:
        if ep.is_async:

            async def all_files() -> None:
                lim = _Limiter(limit, MEMORY_BUDGET)
                await _gather_all(
                    lim.run(
                        _cost(ep.backend, size or 0),
                        partial(_async_get_file, ep, p, target, size, progress),
                    )
                    for (p, _, size), target in zip(objects, targets, strict=True)
                )

            await on_fs_loop(ep.fs, all_files)
        else:
            jobs = [
                partial(_sync_get_file, ep, p, target, progress)
                for (p, _, _), target in zip(objects, targets, strict=True)
            ]
            await _threaded(jobs, limit)
    finally:
        progress.finish()
    return len(objects)


async def _gather_all(coros: Any) -> None:
    """Run all, cancel the rest on the first failure and raise it."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _threaded(jobs: Sequence[Callable[[], None]], limit: int) -> None:
    sem = asyncio.Semaphore(max(1, min(limit, 16)))

    async def one(job: Callable[[], None]) -> None:
        async with sem:
            await asyncio.to_thread(job)

    await _gather_all(one(j) for j in jobs)
