"""flyte.storage: lookups, laziness, bounded concurrency, progress, the DataProxy client's logic."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import flyte.storage as storage
import pytest
from flyte.plugins import hookimpl
from flyte.plugins.manager import isolated_plugins
from flyte.storage import progress as progress_mod
from flyte.storage.backend import StorageBackend
from flyte.storage.dataproxy import AlreadyExists, DataProxyClient
from flyte.storage.transfer import MEMORY_BUDGET, _Limiter


def test_missing_backend_says_what_to_install() -> None:
    with isolated_plugins(), pytest.raises(LookupError) as e:
        storage.backend_for("gs://bucket/key?X-Goog-Signature=abc")
    msg = str(e.value)
    assert "gs" in msg and "flyte-gcs" in msg and "gs://bucket/key" in msg and "abc" not in msg


def test_import_flyte_storage_stays_light() -> None:
    code = (
        "import sys, flyte, flyte.storage, flyte.storage.dataproxy, flyte.storage.signed_url, flyte.storage.transfer;"
        "names = ('s3fs','gcsfs','adlfs','boto3','botocore','httpx','azure','google.cloud');"
        "heavy = [m for m in names if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


class _SlowAsyncFS:
    """Just enough of an async fsspec filesystem to count concurrent transfers."""

    async_impl = True

    def __init__(self) -> None:
        from fsspec.asyn import get_loop

        self.loop = get_loop()
        self.active = 0
        self.peak = 0
        self.files: dict[str, bytes] = {}

    async def _put_file(self, lpath: str, rpath: str, callback: Any = None, **kw: Any) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.002)
        self.files[rpath] = Path(lpath).read_bytes()
        callback.relative_update(len(self.files[rpath]))
        self.active -= 1

    async def _find(self, path: str, detail: bool = False) -> dict[str, Any]:
        return {p: {"type": "file", "size": len(b)} for p, b in self.files.items() if p.startswith(path + "/")}

    async def _get_file(self, rpath: str, lpath: str, callback: Any = None, **kw: Any) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.002)
        Path(lpath).write_bytes(self.files[rpath])
        self.active -= 1

    @staticmethod
    def _strip_protocol(p: str) -> str:
        return p.split("://", 1)[-1]


class _CountingBackend(StorageBackend):
    name = "counting"
    protocols = ("counting",)
    file_concurrency = 8
    fs = _SlowAsyncFS()

    def create_filesystem(self) -> Any:
        return self.fs

    def to_fs_path(self, url: str) -> str:
        return url.split("://", 1)[1]


class _Plugin:
    @hookimpl
    def flyte_storage_backends(self) -> list[type[Any]]:
        return [_CountingBackend]


@pytest.mark.slow
async def test_many_files_move_with_bounded_concurrency(tmp_path: Path) -> None:
    src = tmp_path / "many"
    n = 2000
    for i in range(n):
        d = src / f"d{i % 10}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i}.txt").write_text(str(i))
    _CountingBackend.fs = fs = _SlowAsyncFS()
    rec = RecordingProgress()
    with isolated_plugins(("counting", _Plugin())):
        await storage.put(src, "counting://bucket/many", progress=rec)
        assert len(fs.files) == n and 1 < fs.peak <= 8
        assert rec.started == [("Uploading many", sum(len(str(i)) for i in range(n)), n)]
        fs.peak = 0
        await storage.get("counting://bucket/many", tmp_path / "back", recursive=True, concurrency=4)
        assert 1 < fs.peak <= 4
    assert (tmp_path / "back" / "d3" / "1993.txt").read_text() == "1993"
    assert len(list((tmp_path / "back").rglob("*.txt"))) == n


async def test_memory_budget_limits_big_files() -> None:
    lim = _Limiter(files=32, budget=MEMORY_BUDGET)
    active = peak = 0

    async def job() -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1

    await asyncio.gather(*(lim.run(MEMORY_BUDGET // 2, job) for _ in range(10)))
    assert peak == 2
    await asyncio.gather(*(lim.run(MEMORY_BUDGET * 10, job) for _ in range(3)))  # oversize: one at a time


class RecordingProgress:
    def __init__(self) -> None:
        self.started: list[tuple[str, int | None, int]] = []
        self.bytes = 0

    def start(self, description: str, total_bytes: int | None, total_files: int) -> None:
        self.started.append((description, total_bytes, total_files))

    def advance(self, nbytes: int) -> None:
        self.bytes += nbytes

    def finish(self) -> None:
        pass


def test_progress_is_off_by_default_and_on_for_the_cli() -> None:
    assert isinstance(progress_mod.resolve(None), progress_mod.NoProgress)
    progress_mod.enable_cli_progress(True, delay=0)
    try:
        assert isinstance(progress_mod.resolve(None), progress_mod.RichProgress)
    finally:
        progress_mod.enable_cli_progress(False)
    assert isinstance(progress_mod.resolve(None), progress_mod.NoProgress)


def test_rich_progress_appears_only_after_the_delay() -> None:
    from rich.console import Console

    out = io.StringIO()
    quiet = progress_mod.RichProgress(delay=60, console=Console(file=out, force_terminal=True))
    quiet.start("Uploading x", 100, 1)
    quiet.advance(100)
    quiet.finish()
    assert out.getvalue() == ""
    shown = progress_mod.RichProgress(delay=0, console=Console(file=out, force_terminal=True))
    shown.start("Uploading x", 100, 1)
    shown.advance(50)
    shown.finish()
    assert "Uploading x" in out.getvalue()


# -- DataProxy client logic (transfers themselves: see the plugins' tests) ----------------


class _Api:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.requests: list[Any] = []

    async def create_upload_location(self, request: Any) -> Any:
        self.requests.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    async def create_download_link(self, request: Any) -> Any:
        raise NotImplementedError


async def test_upload_request_fields_and_skip_when_present(tmp_path: Path) -> None:
    from flyteidl2.dataproxy.dataproxy_service_pb2 import CreateUploadLocationResponse

    f = tmp_path / "a.txt"
    f.write_bytes(b"hello")
    api = _Api(CreateUploadLocationResponse(native_url="s3://b/root/a.txt"))
    up = await DataProxyClient(api, project="p", domain="d", org="o").upload_file(f)
    (req,) = api.requests
    assert (req.project, req.domain, req.org, req.filename) == ("p", "d", "o", "a.txt")
    assert req.filename_root == up.md5 == "5d41402abc4b2a76b9719d911017c592"
    assert req.content_length == 5 and req.content_md5.hex() == up.md5 and req.add_content_md5_metadata
    assert req.expires_in.seconds == 3600
    assert up.skipped and up.native_url == "s3://b/root/a.txt"


async def test_already_exists_from_the_adapter_is_a_skip(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"hello")
    client = DataProxyClient(_Api(AlreadyExists("s3://b/x/a.txt")))
    up = await client.upload_file(f)
    assert up.skipped and up.native_url == "s3://b/x/a.txt"
    again = await client.upload_file(f)  # remembered: no second request
    assert again.skipped and len(client.api.requests) == 1  # type: ignore[attr-defined]


async def test_put_into_directory_keeps_name(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("x")
    base = (tmp_path / "store").as_uri()
    await storage.put(src, storage.join(base, "k.txt"))
    assert await storage.exists(storage.join(base, "k.txt"))
    assert os.path.exists(tmp_path / "store" / "k.txt")


def test_scrub_removes_signatures_and_configured_secrets() -> None:
    storage.configure({"azure": {"account_key": "c2VjcmV0LWtleS12YWx1ZQ=="}})
    try:
        text = (
            "GET https://acct.blob.core.windows.net/c/b?sv=2021&sig=abcdef failed; "
            "AccountKey=c2VjcmV0LWtleS12YWx1ZQ==; key c2VjcmV0LWtleS12YWx1ZQ=="
        )
        out = storage.scrub(text)
        assert "abcdef" not in out and "c2VjcmV0" not in out and "https://acct.blob.core.windows.net/c/b" in out
    finally:
        storage.configure({})


async def test_errors_do_not_chain_a_leaky_cause(tmp_path: Path) -> None:
    class Leaky:
        @hookimpl
        def flyte_storage_backends(self) -> list[type[Any]]:
            class LeakyBackend(StorageBackend):
                name = "leaky"
                protocols = ("leaky",)

                def create_filesystem(self) -> Any:
                    class FS:
                        async_impl = False

                        def exists(self, path: str) -> bool:
                            raise OSError("denied for https://h/p?X-Amz-Signature=deadbeef")

                    return FS()

            return [LeakyBackend]

    with isolated_plugins(("leaky", Leaky())), pytest.raises(storage.errors.StorageError) as e:
        await storage.exists("leaky://b/k")
    assert "deadbeef" not in str(e.value) and e.value.__cause__ is None and "leaky://b/k" in str(e.value)


class _FakeRpcError(Exception):
    def __init__(self, code_name: str, details: str) -> None:
        self._code = type("Code", (), {"name": code_name})()
        self._details = details

    def code(self) -> Any:
        return self._code

    def details(self) -> str:
        return self._details


async def test_grpc_stub_adapter(tmp_path: Path) -> None:
    from flyte.storage.dataproxy import StubAdapter
    from flyteidl2.dataproxy.dataproxy_service_pb2 import CreateDownloadLinkResponse, PreSignedURLs

    class Stub:
        def __init__(self) -> None:
            self.calls: list[tuple[str, Any]] = []

        def CreateUploadLocation(self, request: Any, metadata: Any = None, timeout: Any = None) -> Any:
            self.calls.append(("up", metadata))
            raise _FakeRpcError("ALREADY_EXISTS", "object s3://b/r/a.txt already exists.")

        async def CreateDownloadLink(self, request: Any, metadata: Any = None, timeout: Any = None) -> Any:
            return CreateDownloadLinkResponse(pre_signed_urls=PreSignedURLs(signed_url=["http://x/y?sig=1"]))

    stub = Stub()
    client = DataProxyClient(StubAdapter(stub, metadata=[("authorization", "Bearer t")]))
    f = tmp_path / "a.txt"
    f.write_text("x")
    up = await client.upload_file(f)
    assert up.skipped and up.native_url == "s3://b/r/a.txt" and stub.calls == [("up", [("authorization", "Bearer t")])]
    from flyteidl2.dataproxy.dataproxy_service_pb2 import CreateDownloadLinkRequest

    assert await client.download_links(CreateDownloadLinkRequest()) == ["http://x/y?sig=1"]


async def test_already_exists_without_a_location_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_text("x")
    with pytest.raises(storage.errors.StorageError, match="already uploaded but did not say where"):
        await DataProxyClient(_Api(AlreadyExists())).upload_file(f)
