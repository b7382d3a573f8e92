"""Uploads and downloads through the devbox's own signed URLs; tampered or expired ones get 403."""

from __future__ import annotations

import base64
import hashlib
import time
import urllib.parse
from pathlib import Path

import grpc
import httpx
import pytest
from flyte_devbox.signed_url import Signer
from flyteidl2.dataproxy import dataproxy_service_pb2 as dpp
from flyteidl2.dataproxy import dataproxy_service_pb2_grpc as dpg

DATA = b"hello devbox\n" * 1000


def upload_location(channel, data: bytes = DATA, **kw) -> dpp.CreateUploadLocationResponse:
    req = dpp.CreateUploadLocationRequest(
        project="flytesnacks", domain="development", filename="hello.txt", content_md5=hashlib.md5(data).digest(), **kw
    )
    return dpg.DataProxyServiceStub(channel).CreateUploadLocation(req)


def test_put_then_file_is_in_the_data_folder(devbox, channel):
    loc = upload_location(channel)
    r = httpx.put(loc.signed_url, content=DATA, headers=dict(loc.headers))
    assert r.status_code == 200, r.text
    assert Path(loc.native_url).read_bytes() == DATA
    assert str(devbox.data_dir) in loc.native_url
    assert loc.headers["Content-MD5"] == base64.b64encode(hashlib.md5(DATA).digest()).decode()


def test_put_needs_the_signed_md5_and_a_matching_body(channel):
    loc = upload_location(channel, filename_root="md5check")
    r = httpx.put(loc.signed_url, content=DATA)  # no Content-MD5 header
    assert r.status_code == 403 and "Content-MD5" in r.text
    other = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    r = httpx.put(loc.signed_url, content=DATA, headers={"Content-MD5": other})
    assert r.status_code == 403
    r = httpx.put(loc.signed_url, content=b"not the data", headers=dict(loc.headers))
    assert r.status_code == 400 and "does not match" in r.text
    assert not Path(loc.native_url).exists()


def test_tampered_urls_are_refused(channel):
    loc = upload_location(channel, filename_root="tamper")
    parts = urllib.parse.urlsplit(loc.signed_url)
    q = dict(urllib.parse.parse_qsl(parts.query))
    hdr = dict(loc.headers)

    def put(path: str, query: dict[str, str]) -> httpx.Response:
        url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, urllib.parse.urlencode(query), ""))
        return httpx.put(url, content=DATA, headers=hdr)

    assert put(parts.path.replace("hello.txt", "evil.txt"), q).status_code == 403
    assert put(parts.path, dict(q, expires=str(int(q["expires"]) + 3600))).status_code == 403
    flipped = q["sig"][:-1] + ("0" if q["sig"][-1] != "0" else "1")
    r = put(parts.path, dict(q, sig=flipped))
    assert r.status_code == 403 and q["sig"] not in r.text
    assert put(parts.path, {k: v for k, v in q.items() if k != "sig"}).status_code == 403
    # The PUT URL does not allow a GET.
    url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    assert httpx.get(url).status_code == 403
    # Leaving the data folder.
    assert put("/data/../state.db", q).status_code in (403, 404)


def test_url_signed_with_another_key_is_refused(devbox):
    key_holder = Signer(b"k" * 32, devbox.data_dir / "data", devbox.url)
    # A URL signed with the wrong key is refused even before its expiry is looked at.
    url, _ = key_holder.sign("GET", devbox.data_dir / "data" / "x", 60)
    assert httpx.get(url).status_code == 403


def test_expired_url_from_the_server_is_refused(channel):
    from google.protobuf import duration_pb2

    loc = upload_location(channel, filename_root="expiry", expires_in=duration_pb2.Duration(seconds=1))
    time.sleep(2.1)
    r = httpx.put(loc.signed_url, content=DATA, headers=dict(loc.headers))
    assert r.status_code == 403 and "expired" in r.text


def test_upload_location_validation(channel):
    stub = dpg.DataProxyServiceStub(channel)
    with pytest.raises(grpc.RpcError) as e:
        stub.CreateUploadLocation(dpp.CreateUploadLocationRequest(domain="development", filename="a"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "project" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        stub.CreateUploadLocation(
            dpp.CreateUploadLocationRequest(project="flytesnacks", domain="development", filename="../../etc/x")
        )
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as e:
        stub.CreateUploadLocation(
            dpp.CreateUploadLocationRequest(project="flytesnacks", domain="development", filename="a", content_md5=b"x")
        )
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "16" in e.value.details()
