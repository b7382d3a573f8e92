"""Signed-URL transfers against a scripted loopback server: retries, integrity, redaction."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from flyte.storage import redact_url, signed_url
from flyte.storage.errors import IntegrityError, TransferError
from flyte_testing.http import LoopbackHTTPServer


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedServer:
    """A loopback HTTP server whose answers are scripted per request (for fault tests)."""

    url: str
    # each entry: callable(handler, seen) that writes the full response; the last one repeats
    script: list[Callable[[Any, Seen], None]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    store: dict[str, bytes] = field(default_factory=dict)


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Callable[[Any, Seen], None]:
    def go(h: Any, seen: Seen) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return go


def store_or_serve(
    server_ref: list[ScriptedServer], headers: dict[str, str] | None = None
) -> Callable[[Any, Seen], None]:
    def go(h: Any, seen: Seen) -> None:
        srv = server_ref[0]
        if seen.method == "PUT":
            srv.store[seen.path] = seen.body
            reply(200)(h, seen)
        else:
            data = srv.store.get(seen.path)
            if data is None:
                reply(404, b"<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>")(h, seen)
            else:
                reply(200, data, headers)(h, seen)

    return go


def truncated(body: bytes) -> Callable[[Any, Seen], None]:
    def go(h: Any, seen: Seen) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body[: len(body) // 2])
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(2)

    return go


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    ref: list[ScriptedServer] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: Any) -> None:
            pass

        def _handle(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            seen = Seen(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
            srv = ref[0]
            srv.seen.append(seen)
            i = min(len(srv.seen) - 1, len(srv.script) - 1)
            srv.script[i](self, seen)

        do_GET = do_PUT = _handle

    with LoopbackHTTPServer(Handler) as httpd:  # stops at once (no 0.5 s shutdown poll)
        srv = ScriptedServer(url=httpd.url)
        ref.append(srv)
        yield srv


@pytest.fixture
def server_ref(scripted: ScriptedServer) -> list[ScriptedServer]:
    return [scripted]


FAST = signed_url.RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.05)
SECRET = "SuperSecretSignature123"


def _b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _file(tmp_path: Path, data: bytes, name: str = "f.bin") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


async def test_put_retries_503_twice_then_succeeds(scripted: ScriptedServer, server_ref: list, tmp_path: Path) -> None:
    scripted.script = [reply(503), reply(503, headers={"Retry-After": "0"}), store_or_serve(server_ref)]
    data = b"x" * 300_000
    resp = await signed_url.put_file(f"{scripted.url}/b/k?sig={SECRET}", _file(tmp_path, data), retry=FAST)
    assert resp.status_code == 200 and len(scripted.seen) == 3
    assert scripted.store["/b/k?sig=" + SECRET] == data
    last = {k.lower(): v for k, v in scripted.seen[-1].headers.items()}
    assert last["content-length"] == str(len(data)) and "transfer-encoding" not in last
    assert last["content-md5"] == _b64md5(data)


async def test_retry_after_is_honoured(scripted: ScriptedServer, server_ref: list, tmp_path: Path) -> None:
    scripted.script = [reply(429, headers={"Retry-After": "1"}), store_or_serve(server_ref)]
    t0 = time.monotonic()
    await signed_url.put_file(f"{scripted.url}/k", _file(tmp_path, b"abc"), retry=FAST)
    assert time.monotonic() - t0 >= 0.95


def test_retry_after_forms() -> None:
    policy = signed_url.RetryPolicy(max_retry_after=30)
    assert policy.delay(1, "7") == 7
    assert policy.delay(1, "600") == 30
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 5))
    assert 3 <= policy.delay(1, http_date) <= 5.5
    assert 0 < policy.delay(3, None) <= policy.backoff * 4


async def test_always_503_gives_one_clear_error(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script = [reply(503, b"<Error><Code>SlowDown</Code><Message>busy</Message></Error>")]
    with pytest.raises(TransferError) as e:
        await signed_url.put_file(f"{scripted.url}/b/k?X-Amz-Signature={SECRET}", _file(tmp_path, b"a"), retry=FAST)
    msg = str(e.value)
    assert e.value.status == 503 and e.value.attempts == 4 and len(scripted.seen) == 4
    assert f"{scripted.url}/b/k" in msg and "SlowDown" in msg and SECRET not in msg and "?" not in msg


async def test_403_is_not_retried_and_never_leaks(
    scripted: ScriptedServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    echo = (
        f"<Error><Code>AuthenticationFailed</Code><Message>bad sig={SECRET}</Message>"
        f"<StringToSign>{SECRET}</StringToSign></Error>"
    )
    scripted.script = [reply(403, echo.encode())]
    caplog.set_level(logging.DEBUG, logger="flyte.storage")
    with pytest.raises(TransferError, match="expired") as e:
        await signed_url.get_file(f"{scripted.url}/c/blob?sv=1&sig={SECRET}", tmp_path / "o", retry=FAST)
    assert len(scripted.seen) == 1 and e.value.status == 403
    assert SECRET not in str(e.value) and SECRET not in repr(e.value) and "AuthenticationFailed" in str(e.value)
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    assert not (tmp_path / "o").exists()


async def test_truncated_download_is_retried(scripted: ScriptedServer, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4000
    scripted.script = [truncated(data), reply(200, data, {"Content-MD5": _b64md5(data)})]
    out = await signed_url.get_file(f"{scripted.url}/obj", tmp_path / "out.bin", retry=FAST)
    assert Path(out).read_bytes() == data and len(scripted.seen) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


async def test_corrupt_download_is_refused(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script = [reply(200, b"tampered", {"x-goog-hash": f"crc32c=AAAAAA==,md5={_b64md5(b'original')}"})]
    with pytest.raises(IntegrityError, match="corrupt"):
        await signed_url.get_file(f"{scripted.url}/obj?sig={SECRET}", tmp_path / "o", retry=FAST)
    assert list(tmp_path.iterdir()) == []


async def test_s3_etag_is_checked(scripted: ScriptedServer, tmp_path: Path) -> None:
    data = b"etag checked"
    scripted.script = [reply(200, data, {"ETag": f'"{hashlib.md5(b"other").hexdigest()}"'})]
    with pytest.raises(IntegrityError):
        await signed_url.get_file(f"{scripted.url}/obj", tmp_path / "o", retry=signed_url.RetryPolicy(attempts=1))
    scripted.seen.clear()
    scripted.script = [reply(200, data, {"ETag": f'"{hashlib.md5(data).hexdigest()}-2"'})]  # multipart: not an MD5
    await signed_url.get_file(f"{scripted.url}/obj", tmp_path / "o", retry=FAST)
    assert (tmp_path / "o").read_bytes() == data


async def test_connection_refused_is_one_error(tmp_path: Path) -> None:
    from flyte_testing.services import free_port

    url = f"http://127.0.0.1:{free_port()}/b/k?sig={SECRET}"
    with pytest.raises(TransferError, match="connection failed") as e:
        await signed_url.put_file(url, _file(tmp_path, b"1"), retry=signed_url.RetryPolicy(attempts=2, backoff=0.01))
    assert e.value.status is None and SECRET not in str(e.value)


def test_redact_url() -> None:
    assert redact_url("https://user:pw@host:9/p/a?sig=1&x=2#f") == "https://host:9/p/a"
    assert redact_url("s3://bucket/key") == "s3://bucket/key"
    # the container of an ADLS URL is not user info
    abfss = "abfss://data@acct.dfs.core.windows.net/a/b"
    assert redact_url(abfss + "?sv=1&sig=x") == abfss
    assert redact_url("abfss://user:pw@acct.dfs.core.windows.net/a") == "abfss://acct.dfs.core.windows.net/a"


async def test_crc32_is_preferred_and_checked(scripted: ScriptedServer, tmp_path: Path) -> None:
    import zlib

    data = b"crc checked"
    good = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    wrong_md5 = f'"{hashlib.md5(b"x").hexdigest()}"'  # ignored: the CRC is checked instead
    scripted.script = [reply(200, data, {"x-amz-checksum-crc32": good, "ETag": wrong_md5})]
    await signed_url.get_file(f"{scripted.url}/o", tmp_path / "o", retry=FAST)
    scripted.seen.clear()
    scripted.script = [reply(200, data, {"x-amz-checksum-crc32": "AAAAAA=="})]
    with pytest.raises(IntegrityError, match="CRC32"):
        await signed_url.get_file(f"{scripted.url}/o", tmp_path / "p", retry=signed_url.RetryPolicy(attempts=1))


async def test_checksum_mode_header_follows_the_signature(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script = [reply(200, b"x")]
    url = f"{scripted.url}/o?X-Amz-SignedHeaders=host%3Bx-amz-checksum-mode&X-Amz-Signature=abc"
    await signed_url.get_file(url, tmp_path / "o", retry=FAST)
    assert {k.lower(): v for k, v in scripted.seen[0].headers.items()}["x-amz-checksum-mode"] == "ENABLED"
