"""``StorageConformance``: the test suite every storage backend passes.

A backend's test file subclasses it, names its plugin and provides a fresh base URL::

    from flyte.testing.storage import StorageConformance
    import flyte_s3.hooks

    class TestS3(StorageConformance):
        plugins = [("s3", flyte_s3.hooks)]

        @pytest.fixture
        def storage_base_url(self, bucket):          # a fresh, empty prefix per test
            return f"s3://{bucket}/conformance"

        @pytest.fixture
        def storage_options(self, moto):             # optional: reaches the backend as `options`
            return {"endpoint": moto.url, "access_key_id": "k", "secret_access_key": "s"}

The plugins are registered for each test only (installed plugins do not leak in). Class
attributes tune the suite to what a server can do: ``checks_signatures`` (it rejects a
tampered or expired signed URL), ``verifies_content_md5`` (it rejects a PUT whose bytes do
not match ``Content-MD5``), ``large_file_size``, ``max_transfer_memory`` (tracemalloc peak
allowed while one large file moves), ``dir_file_count`` and ``dir_concurrency`` (for test
servers that slow down under many parallel uploads).

Optional fixtures let the suite check what only the backend's test setup can arrange (each
skips with a reason when not provided): ``bad_credentials`` (a URL and options whose
credentials the server refuses), ``missing_bucket_url`` (a URL in a bucket/container that
does not exist) and ``count_parts`` (how many parts/blocks/chunks an upload used).

:class:`SigningDataProxy` is a DataProxyService stand-in that signs URLs with the backend
itself; it drives :class:`flyte.storage.dataproxy.DataProxyClient` end to end.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

import flyte.storage as storage
from flyte.storage import signed_url
from flyte.storage.errors import SigningNotSupported, TransferError

MiB = 1 << 20


class RecordingProgress:
    """A progress callback that remembers what it was told (thread-safe enough for counting)."""

    def __init__(self) -> None:
        self.started: list[tuple[str, int | None, int]] = []
        self.advances = 0
        self.bytes = 0
        self.finished = 0

    def start(self, description: str, total_bytes: int | None, total_files: int) -> None:
        self.started.append((description, total_bytes, total_files))

    def advance(self, nbytes: int) -> None:
        self.advances += 1
        self.bytes += nbytes

    def finish(self) -> None:
        self.finished += 1


@dataclass
class BadCredentials:
    """What ``bad_credentials`` provides: ``options`` whose credentials the server refuses for ``url``
    (``secrets``: values that must never appear in an error)."""

    url: str
    options: dict[str, Any]
    secrets: Sequence[str] = ()


class TransferCounter:
    """Counts single-file transfers in flight inside :mod:`flyte.storage.transfer` (peak kept).

    :meth:`install` wraps the per-file put/get functions (async and threaded, any backend);
    each transfer first waits ``delay`` seconds so that concurrent ones overlap measurably.
    """

    _NAMES = ("_async_put_file", "_async_get_file", "_sync_put_file", "_sync_get_file")

    def __init__(self, delay: float = 0.05) -> None:
        self.delay = delay
        self._lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.calls = 0

    def _enter(self) -> None:
        with self._lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)

    def _exit(self) -> None:
        with self._lock:
            self.active -= 1

    def reset(self) -> None:
        self.peak = self.calls = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from flyte.storage import transfer

        for name in self._NAMES:
            orig = getattr(transfer, name)
            if asyncio.iscoroutinefunction(orig):

                async def counted(*args: Any, _orig: Any = orig, **kwargs: Any) -> Any:
                    self._enter()
                    try:
                        await asyncio.sleep(self.delay)
                        return await _orig(*args, **kwargs)
                    finally:
                        self._exit()

                monkeypatch.setattr(transfer, name, counted)
            else:

                def counted_sync(*args: Any, _orig: Any = orig, **kwargs: Any) -> Any:
                    self._enter()
                    try:
                        time.sleep(self.delay)
                        return _orig(*args, **kwargs)
                    finally:
                        self._exit()

                monkeypatch.setattr(transfer, name, counted_sync)


class SigningDataProxy:
    """A DataProxyService stand-in: signs upload/download URLs under ``base_url`` with the backend.

    Upload keys are ``base_url/<filename_root>/<filename>``; when that object already exists
    the response carries only ``native_url`` (the content-addressed "already present" answer).
    :meth:`serve` picks which object :meth:`create_download_link` hands out.
    """

    def __init__(self, base_url: str, expires_in: int = 600) -> None:
        self.base_url = base_url.rstrip("/")
        self.expires_in = expires_in
        self.served: list[str] = []
        self.upload_requests = 0

    def serve(self, *native_urls: str) -> None:
        self.served = list(native_urls)

    def create_upload_location(self, request: Any) -> Any:
        from flyteidl2.dataproxy.dataproxy_service_pb2 import CreateUploadLocationResponse

        self.upload_requests += 1
        root = request.filename_root or request.content_md5.hex()
        native = storage.join(self.base_url, root, request.filename)
        backend = storage.backend_for(native)
        fs = backend.filesystem_for(native)
        if request.filename_root and fs.exists(backend.to_fs_path(native)):
            return CreateUploadLocationResponse(native_url=native)
        md5 = base64.b64encode(request.content_md5).decode() if request.content_md5 else None
        url = backend.sign_url(native, method="PUT", expires_in=self.expires_in, content_md5=md5)
        headers = backend.signed_put_headers(content_length=request.content_length, content_md5=md5)
        return CreateUploadLocationResponse(signed_url=url, native_url=native, headers=headers)

    def create_download_link(self, request: Any) -> Any:
        from flyteidl2.dataproxy.dataproxy_service_pb2 import CreateDownloadLinkResponse, PreSignedURLs

        urls = [storage.backend_for(u).sign_url(u, method="GET", expires_in=self.expires_in) for u in self.served]
        return CreateDownloadLinkResponse(pre_signed_urls=PreSignedURLs(signed_url=urls))


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _write_big(path: Path, size: int) -> str:
    """Write ``size`` pseudo-random bytes without holding them all; return the hex MD5."""
    h = hashlib.md5(usedforsecurity=False)
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for i in range(0, size, MiB):
            chunk = block[: min(MiB, size - i)]
            chunk = i.to_bytes(8, "little") + chunk[8:] if len(chunk) >= 8 else chunk
            f.write(chunk)
            h.update(chunk)
    return h.hexdigest()


def _md5(path: str | Path) -> str:
    return signed_url.md5_of_file(path).hex()


def _no_part_files(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*.part-*")]


class StorageConformance:
    """Subclass and provide ``storage_base_url`` (and optionally ``storage_options``); see the module doc."""

    plugins: ClassVar[Sequence[tuple[str, Any]]] = ()
    checks_signatures: ClassVar[bool] = True
    verifies_content_md5: ClassVar[bool] = True
    large_file_size: ClassVar[int] = 64 * MiB
    max_transfer_memory: ClassVar[int] = 40 * MiB  # tracemalloc peak while one large file moves
    dir_file_count: ClassVar[int] = 300
    dir_concurrency: ClassVar[int | None] = None  # None: the backend's file_concurrency

    # -- fixtures a subclass provides -----------------------------------------------------

    @pytest.fixture
    def storage_base_url(self) -> str:
        raise NotImplementedError("Subclasses provide a `storage_base_url` fixture: a fresh, empty prefix URL")

    @pytest.fixture
    def storage_options(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def bad_credentials(self) -> BadCredentials:
        pytest.skip("this backend's tests provide no server that checks credentials (bad_credentials fixture)")

    @pytest.fixture
    def missing_bucket_url(self) -> str:
        pytest.skip("no missing_bucket_url fixture: this backend has no buckets or its tests do not say")

    @pytest.fixture
    def count_parts(self) -> Callable[[str], int | None]:
        """Return a function giving the number of parts the last upload to a URL used (None: unknown)."""
        return lambda url: None

    @pytest.fixture(autouse=True)
    def _storage_plugins(self, storage_options: dict[str, Any]) -> Iterator[None]:
        from flyte.plugins.manager import isolated_plugins

        with isolated_plugins(*self.plugins):
            storage.configure(storage_options)
            try:
                yield
            finally:
                storage.configure({})

    # -- files ---------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_put_get_file(self, storage_base_url: str, tmp_path: Path) -> None:
        data = os.urandom(100_000)
        src = _write(tmp_path / "in" / "a.bin", data)
        url = storage.join(storage_base_url, "files/a.bin")
        assert await storage.put(src, url) == url
        assert await storage.exists(url)
        out = await storage.get(url, tmp_path / "out" / "a.bin")
        assert Path(out).read_bytes() == data
        assert not _no_part_files(tmp_path)

    @pytest.mark.asyncio
    async def test_get_into_existing_folder_keeps_name(self, storage_base_url: str, tmp_path: Path) -> None:
        src = _write(tmp_path / "b.txt", b"hello")
        url = storage.join(storage_base_url, "b.txt")
        await storage.put(src, url)
        (tmp_path / "dest").mkdir()
        out = await storage.get(url, tmp_path / "dest")
        assert Path(out) == tmp_path / "dest" / "b.txt"
        assert Path(out).read_bytes() == b"hello"

    @pytest.mark.asyncio
    async def test_empty_file(self, storage_base_url: str, tmp_path: Path) -> None:
        src = _write(tmp_path / "empty", b"")
        url = storage.join(storage_base_url, "empty")
        await storage.put(src, url)
        out = await storage.get(url, tmp_path / "out" / "empty")
        assert Path(out).read_bytes() == b""

    @pytest.mark.asyncio
    async def test_overwrite(self, storage_base_url: str, tmp_path: Path) -> None:
        url = storage.join(storage_base_url, "o.txt")
        await storage.put(_write(tmp_path / "1", b"first"), url)
        await storage.put(_write(tmp_path / "2", b"second"), url)
        out = await storage.get(url, tmp_path / "o.txt")
        assert Path(out).read_bytes() == b"second"

    @pytest.mark.asyncio
    async def test_exists_and_delete(self, storage_base_url: str, tmp_path: Path) -> None:
        url = storage.join(storage_base_url, "gone.txt")
        assert not await storage.exists(url)
        await storage.put(_write(tmp_path / "g", b"x"), url)
        assert await storage.exists(url)
        await storage.delete(url)
        assert not await storage.exists(url)

    @pytest.mark.asyncio
    async def test_ls(self, storage_base_url: str, tmp_path: Path) -> None:
        base = storage.join(storage_base_url, "listing")
        for rel in ("a.txt", "b.txt", "sub/c.txt"):
            await storage.put(_write(tmp_path / rel, rel.encode()), storage.join(base, rel))
        top = await storage.ls(base)
        assert [u.rsplit("/", 1)[-1] for u in top] == ["a.txt", "b.txt", "sub"]
        assert all(u.startswith(base + "/") for u in top)
        deep = await storage.ls(base, recursive=True)
        assert deep == [storage.join(base, r) for r in ("a.txt", "b.txt", "sub/c.txt")]

    def test_open_sync_streams(self, storage_base_url: str) -> None:
        url = storage.join(storage_base_url, "stream/s.bin")
        blocks = [os.urandom(256 * 1024) for _ in range(8)]
        with storage.open_sync(url, "wb") as f:
            for b in blocks:
                f.write(b)
        got = []
        with storage.open_sync(url, "rb") as f:
            while chunk := f.read(300_000):
                got.append(chunk)
        assert b"".join(got) == b"".join(blocks)
        assert len(got) > 1

    @pytest.mark.slow
    @pytest.mark.asyncio
    async def test_large_file_goes_in_parts(
        self, storage_base_url: str, tmp_path: Path, count_parts: Callable[[str], int | None]
    ) -> None:
        src = tmp_path / "big.bin"
        want = _write_big(src, self.large_file_size)
        url = storage.join(storage_base_url, "big/big.bin")
        backend = storage.backend_for(url)
        up = RecordingProgress()
        with _peak_memory() as up_peak:
            await storage.put(src, url, progress=up)
        assert up.bytes == self.large_file_size and up.started[0][1] == self.large_file_size
        assert up.advances > 1, "a large file must stream (several progress steps), not move in one piece"
        parts = count_parts(url)
        if parts is not None:
            expected = -(-self.large_file_size // backend.part_size)
            assert parts == expected, f"{parts} parts for {self.large_file_size} bytes, want {expected}"
        down = RecordingProgress()
        out = tmp_path / "big.out"
        with _peak_memory() as down_peak:
            await storage.get(url, out, progress=down)
        assert down.bytes == self.large_file_size
        assert _md5(out) == want
        for what, peak in (("upload", up_peak[0]), ("download", down_peak[0])):
            assert peak < self.max_transfer_memory, (
                f"{what} of {self.large_file_size >> 20} MiB peaked at {peak / MiB:.1f} MiB of Python memory "
                f"(allowed {self.max_transfer_memory >> 20} MiB)"
            )

    # -- directories ---------------------------------------------------------------------

    @pytest.mark.slow
    @pytest.mark.asyncio
    async def test_dir_roundtrip(self, storage_base_url: str, tmp_path: Path) -> None:
        src = tmp_path / "tree"
        expected = {}
        for i in range(self.dir_file_count):
            rel = f"d{i % 7}/sub{i % 3}/f{i}.txt"
            expected[rel] = f"file {i}\n".encode() * (i % 5 + 1)
            _write(src / rel, expected[rel])
        url = storage.join(storage_base_url, "tree")
        up = RecordingProgress()
        await storage.put(src, url, recursive=True, progress=up, concurrency=self.dir_concurrency)
        assert up.started[0][2] == self.dir_file_count
        assert up.bytes == sum(len(v) for v in expected.values())
        listed = await storage.ls(url, recursive=True)
        assert len(listed) == self.dir_file_count
        out = tmp_path / "back"
        await storage.get(url, out, recursive=True, concurrency=8)
        got = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert got == expected

    @pytest.mark.asyncio
    async def test_folder_concurrency_is_bounded(
        self, storage_base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        src = tmp_path / "many"
        n = 24
        for i in range(n):
            _write(src / f"d{i % 3}" / f"f{i}.txt", f"{i}".encode())
        url = storage.join(storage_base_url, "many")
        backend = storage.backend_for(url)
        counting = TransferCounter()
        counting.install(monkeypatch)
        await storage.put(src, url, concurrency=4)
        assert counting.calls == n
        assert 1 < counting.peak <= 4, f"peak {counting.peak} transfers in flight with concurrency=4"
        counting.reset()
        monkeypatch.setattr(backend, "file_concurrency", 3)  # the default bound when none is given
        out = tmp_path / "back"
        await storage.get(url, out, recursive=True)
        assert counting.calls == n
        assert 1 < counting.peak <= 3, f"peak {counting.peak} transfers in flight with file_concurrency=3"
        assert len([p for p in out.rglob("*") if p.is_file()]) == n

    @pytest.mark.asyncio
    async def test_delete_recursive(self, storage_base_url: str, tmp_path: Path) -> None:
        src = tmp_path / "t"
        for rel in ("x/1", "x/2", "y/3"):
            _write(src / rel, b"1")
        url = storage.join(storage_base_url, "del")
        await storage.put(src, url, recursive=True)
        await storage.delete(url, recursive=True)
        assert not await storage.exists(storage.join(url, "x/1"))

    # -- errors --------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_missing_object_is_a_clear_error(self, storage_base_url: str, tmp_path: Path) -> None:
        url = storage.join(storage_base_url, "nope/missing.bin")
        dest = tmp_path / "out" / "missing.bin"
        with pytest.raises(FileNotFoundError) as e:
            await storage.get(url, dest)
        assert storage.redact_url(url) in str(e.value)
        assert not dest.exists() and not _no_part_files(tmp_path)

    @pytest.mark.asyncio
    async def test_wrong_credentials_are_a_clear_error(self, bad_credentials: BadCredentials, tmp_path: Path) -> None:
        src = _write(tmp_path / "f.txt", b"x")
        storage.configure(bad_credentials.options)
        url = storage.join(bad_credentials.url, "denied.txt")
        for attempt in ("put", "get"):
            with pytest.raises((PermissionError, storage.errors.StorageError)) as e:
                if attempt == "put":
                    await storage.put(src, url)
                else:
                    await storage.get(url, tmp_path / "out.txt")
            msg = str(e.value)
            assert storage.redact_url(url) in msg, msg
            assert isinstance(e.value, PermissionError), f"{attempt}: {type(e.value).__name__}: {msg}"
            assert "credentials" in msg
            for secret in bad_credentials.secrets:
                assert secret not in msg
        assert not (tmp_path / "out.txt").exists() and not _no_part_files(tmp_path)

    @pytest.mark.asyncio
    async def test_missing_bucket_is_a_clear_error(self, missing_bucket_url: str, tmp_path: Path) -> None:
        url = storage.join(missing_bucket_url, "x.txt")
        with pytest.raises(FileNotFoundError) as e:
            await storage.get(url, tmp_path / "x.txt")
        assert storage.redact_url(url) in str(e.value)
        with pytest.raises((FileNotFoundError, storage.errors.StorageError)) as e2:
            await storage.put(_write(tmp_path / "src.txt", b"1"), url)
        assert storage.redact_url(url) in str(e2.value)
        assert not (tmp_path / "x.txt").exists()

    @pytest.mark.asyncio
    async def test_check_writable(self, storage_base_url: str) -> None:
        prefix = storage.join(storage_base_url, "writable")
        storage.check_writable(prefix)
        await storage.check_writable_async(prefix)
        leftovers = [u for u in await storage.ls(prefix, recursive=True) if storage.WRITE_CHECK_PREFIX in u]
        assert leftovers == [], "the marker object is removed"

    @pytest.mark.asyncio
    async def test_check_writable_refuses_missing_bucket(self, missing_bucket_url: str) -> None:
        with pytest.raises(FileNotFoundError) as e:
            await storage.check_writable_async(missing_bucket_url)
        assert storage.redact_url(missing_bucket_url) in str(e.value)

    def test_check_writable_refuses_wrong_credentials(self, bad_credentials: BadCredentials) -> None:
        storage.configure(bad_credentials.options)
        with pytest.raises(PermissionError) as e:
            storage.check_writable(bad_credentials.url)
        msg = str(e.value)
        assert storage.redact_url(bad_credentials.url) in msg and "credentials" in msg
        for secret in bad_credentials.secrets:
            assert secret not in msg

    @pytest.mark.asyncio
    async def test_missing_local_file(self, storage_base_url: str, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError, match="no such file"):
            await storage.put(tmp_path / "absent", storage.join(storage_base_url, "x"))

    @pytest.mark.asyncio
    async def test_no_secrets_in_reprs(self, storage_base_url: str, storage_options: dict[str, Any]) -> None:
        backend = storage.backend_for(storage_base_url)
        secrets = [
            str(v)
            for k, v in _flatten(storage_options)
            if isinstance(v, str) and any(w in k.lower() for w in ("secret", "key", "password", "token", "connection"))
        ]
        for shown in (repr(backend), str(backend), repr(backend.filesystem_for(storage_base_url))):
            for s in secrets:
                assert s not in shown

    # -- signed URLs ---------------------------------------------------------------------

    def _sign(self, url: str, **kw: Any) -> str:
        try:
            return storage.backend_for(url).sign_url(url, **kw)
        except SigningNotSupported as e:
            pytest.skip(str(e))

    @pytest.mark.asyncio
    async def test_signed_url_put_and_get(self, storage_base_url: str, tmp_path: Path) -> None:
        data = os.urandom(300_000)
        src = _write(tmp_path / "s.bin", data)
        url = storage.join(storage_base_url, "signed/s.bin")
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        put_url = self._sign(url, method="PUT", expires_in=300, content_md5=md5)
        backend = storage.backend_for(url)
        headers = backend.signed_put_headers(content_length=len(data), content_md5=md5)
        await signed_url.put_file(put_url, src, headers=headers, content_md5=md5)
        assert await storage.exists(url)
        get_url = self._sign(url, method="GET", expires_in=300)
        out = await signed_url.get_file(get_url, tmp_path / "back.bin", headers=backend.signed_get_headers())
        assert Path(out).read_bytes() == data

    @pytest.mark.asyncio
    async def test_signed_get_checks_expected_md5(self, storage_base_url: str, tmp_path: Path) -> None:
        url = storage.join(storage_base_url, "signed/m.bin")
        await storage.put(_write(tmp_path / "m.bin", b"payload"), url)
        get_url = self._sign(url, method="GET", expires_in=300)
        with pytest.raises(TransferError, match="corrupt") as e:
            await signed_url.get_file(
                get_url,
                tmp_path / "m.out",
                expected_md5="0" * 32,
                retry=signed_url.RetryPolicy(attempts=2, backoff=0.01),
            )
        assert "?" not in str(e.value)
        assert not (tmp_path / "m.out").exists() and not _no_part_files(tmp_path)

    @pytest.mark.asyncio
    async def test_tampered_signed_url_is_refused_without_leaking(self, storage_base_url: str, tmp_path: Path) -> None:
        if not self.checks_signatures:
            pytest.skip("this server does not check signatures")
        url = storage.join(storage_base_url, "signed/t.bin")
        await storage.put(_write(tmp_path / "t.bin", b"secret bytes"), url)
        good = self._sign(url, method="GET", expires_in=300)
        bad = _tamper(good)
        with pytest.raises(TransferError) as e:
            await signed_url.get_file(bad, tmp_path / "t.out")
        msg = str(e.value)
        assert e.value.status in (401, 403) and e.value.attempts == 1
        assert "?" not in msg and _query(good) not in msg and _query(bad) not in msg
        assert storage.redact_url(good) in msg
        assert not (tmp_path / "t.out").exists()

    @pytest.mark.slow
    @pytest.mark.asyncio
    async def test_expired_signed_url_is_refused(self, storage_base_url: str, tmp_path: Path) -> None:
        if not self.checks_signatures:
            pytest.skip("this server does not check signatures")
        url = storage.join(storage_base_url, "signed/e.bin")
        await storage.put(_write(tmp_path / "e.bin", b"x"), url)
        expiring = self._sign(url, method="GET", expires_in=1)
        await asyncio.sleep(2.2)
        with pytest.raises(TransferError, match="expired") as e:
            await signed_url.get_file(expiring, tmp_path / "e.out")
        assert "?" not in str(e.value)

    @pytest.mark.asyncio
    async def test_signed_put_with_wrong_md5_leaves_nothing(self, storage_base_url: str, tmp_path: Path) -> None:
        if not self.verifies_content_md5:
            pytest.skip("this server does not verify Content-MD5")
        url = storage.join(storage_base_url, "signed/w.bin")
        data = b"the real bytes"
        wrong = base64.b64encode(hashlib.md5(b"other bytes", usedforsecurity=False).digest()).decode()
        put_url = self._sign(url, method="PUT", expires_in=300, content_md5=wrong)
        headers = storage.backend_for(url).signed_put_headers(content_length=len(data), content_md5=wrong)
        with pytest.raises(TransferError) as e:
            await signed_url.put_file(put_url, _write(tmp_path / "w", data), headers=headers, content_md5=wrong)
        assert e.value.status is not None and 400 <= e.value.status < 500
        assert "?" not in str(e.value)
        assert not await storage.exists(url)

    # -- DataProxy -----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_dataproxy_upload_is_content_addressed(self, storage_base_url: str, tmp_path: Path) -> None:
        from flyteidl2.dataproxy.dataproxy_service_pb2 import CreateDownloadLinkRequest

        from flyte.storage.dataproxy import DataProxyClient

        self._sign(storage.join(storage_base_url, "probe"), method="GET", expires_in=60)
        proxy = SigningDataProxy(storage.join(storage_base_url, "dataproxy"))
        data = os.urandom(200_000)
        src = _write(tmp_path / "bundle.tgz", data)
        first = await DataProxyClient(proxy, project="p", domain="d").upload_file(src)
        assert not first.skipped and first.native_url.endswith(f"/{first.md5}/bundle.tgz")
        assert await storage.exists(first.native_url)
        again = await DataProxyClient(proxy, project="p", domain="d").upload_file(
            _write(tmp_path / "c" / "bundle.tgz", data)
        )
        assert again.skipped and again.native_url == first.native_url
        proxy.serve(first.native_url)
        out = await DataProxyClient(proxy).download(CreateDownloadLinkRequest(), tmp_path / "dl.tgz")
        assert Path(out[0]).read_bytes() == data


class _peak_memory:
    """``with _peak_memory() as peak:`` then ``peak[0]`` is tracemalloc's peak in bytes (all threads)."""

    def __enter__(self) -> list[int]:
        self.out = [0]
        self.was_tracing = tracemalloc.is_tracing()
        if not self.was_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        self.base = tracemalloc.get_traced_memory()[0]
        return self.out

    def __exit__(self, *exc: object) -> None:
        self.out[0] = tracemalloc.get_traced_memory()[1] - self.base
        if not self.was_tracing:
            tracemalloc.stop()


def _flatten(d: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _flatten(v, f"{prefix}{k}.")
    else:
        yield prefix, d


def _query(url: str) -> str:
    return url.split("?", 1)[1] if "?" in url else ""


def _tamper(url: str) -> str:
    """Flip one character of the signature parameter (S3 / GCS / Azure spellings)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    q = parse_qsl(parts.query, keep_blank_values=True)
    out = []
    for k, v in q:
        if k.lower() in ("x-amz-signature", "x-goog-signature", "sig", "signature") and v:
            v = ("A" if v[0] != "A" else "B") + v[1:]
        out.append((k, v))
    return urlunsplit(parts._replace(query=urlencode(out)))
