"""S3 specifics: credentials, errors, multipart, presigned URLs from boto3, faults through a proxy."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flyte.storage as storage
import flyte_s3.hooks
import pytest
from flyte.plugins.manager import isolated_plugins
from flyte.storage import signed_url
from flyte.storage.dataproxy import DataProxyClient
from flyte.storage.errors import TransferError
from flyte_s3.backend import S3Backend
from flyte_testing import services


@pytest.fixture
def s3(s3_options: dict[str, Any]) -> Iterator[None]:
    with isolated_plugins(("s3", flyte_s3.hooks)):
        storage.configure(s3_options)
        yield
        storage.configure({})


def test_flyte_aws_env_is_read_and_options_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_AWS_ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setenv("FLYTE_AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("FLYTE_AWS_SECRET_ACCESS_KEY", "env-secret")
    kw = S3Backend({})._fs_kwargs()
    assert (kw["endpoint_url"], kw["key"], kw["secret"]) == ("http://127.0.0.1:1", "env-key", "env-secret")
    kw = S3Backend({"s3": {"endpoint": "http://127.0.0.1:2", "access_key_id": "opt"}})._fs_kwargs()
    assert (kw["endpoint_url"], kw["key"]) == ("http://127.0.0.1:2", "opt")


def test_standard_aws_chain_when_nothing_flyte_specific(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in ("FLYTE_AWS_ENDPOINT", "FLYTE_AWS_ACCESS_KEY_ID", "FLYTE_AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(v, raising=False)
    kw = S3Backend({"profile": "dev"})._fs_kwargs()
    assert "key" not in kw and "endpoint_url" not in kw and kw["profile"] == "dev"


def test_secret_not_in_repr() -> None:
    b = S3Backend({"access_key_id": "AKIAEXAMPLE", "secret_access_key": "very-secret-value"})
    assert "very-secret-value" not in repr(b) and "AKIAEXAMPLE" not in repr(b)


def test_hooks_module_is_thin() -> None:
    import subprocess
    import sys

    code = "import sys, flyte, flyte_s3.hooks; print(any(m in sys.modules for m in ('s3fs','botocore','boto3')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


async def test_wrong_credentials_say_so_without_the_secret(moto_auth: services.Service, tmp_path: Path) -> None:
    import boto3

    good = {"endpoint": moto_auth.url, "region": "us-east-1"}
    good["access_key_id"] = moto_auth.env["AWS_ACCESS_KEY_ID"]
    good["secret_access_key"] = moto_auth.env["AWS_SECRET_ACCESS_KEY"]
    boto3.client(
        "s3",
        endpoint_url=moto_auth.url,
        region_name="us-east-1",
        aws_access_key_id=good["access_key_id"],
        aws_secret_access_key=good["secret_access_key"],
    ).create_bucket(Bucket="authed")
    src = tmp_path / "f"
    src.write_bytes(b"x")
    with isolated_plugins(("s3", flyte_s3.hooks)):
        storage.configure(good)
        await storage.put(src, "s3://authed/ok")  # the right keys work
        bad = dict(good, access_key_id="AKIAWRONGWRONGWRONG1", secret_access_key="wrong-secret-do-not-print")
        storage.configure(bad)
        try:
            with pytest.raises(PermissionError) as e:
                await storage.put(src, "s3://authed/denied")
        finally:
            storage.configure({})
    msg = str(e.value)
    assert "s3://authed/denied" in msg and "credentials" in msg
    assert "wrong-secret-do-not-print" not in msg


async def test_missing_bucket_names_the_url(s3: None, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"s3://no-such-bucket-here/x"):
        await storage.get("s3://no-such-bucket-here/x", tmp_path / "x")
    src = tmp_path / "f"
    src.write_bytes(b"1")
    with pytest.raises((FileNotFoundError, storage.errors.StorageError), match=r"no-such-bucket-here"):
        await storage.put(src, "s3://no-such-bucket-here/x")


@pytest.mark.slow
async def test_large_file_is_multipart(s3: None, bucket: str, boto_s3: Any, tmp_path: Path) -> None:
    src = tmp_path / "big"
    with open(src, "wb") as f:
        for _ in range(40):
            f.write(os.urandom(1 << 20))
    await storage.put(src, f"s3://{bucket}/big")
    etag = boto_s3.head_object(Bucket=bucket, Key="big")["ETag"].strip('"')
    assert etag.endswith("-3"), etag  # 16 MiB parts


class Boto3DataProxy:
    """A control plane stand-in that presigns with boto3 itself (SigV4)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client, self.bucket = client, bucket
        self.keys: list[str] = []

    def create_upload_location(self, req: Any) -> Any:
        from flyteidl2.dataproxy.dataproxy_service_pb2 import CreateUploadLocationResponse

        key = f"{req.project}/{req.domain}/{req.filename_root}/{req.filename}"
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return CreateUploadLocationResponse(native_url=f"s3://{self.bucket}/{key}")
        except self.client.exceptions.ClientError:
            pass
        md5 = base64.b64encode(req.content_md5).decode()
        url = self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key, "ContentMD5": md5}, ExpiresIn=600
        )
        return CreateUploadLocationResponse(signed_url=url, native_url=f"s3://{self.bucket}/{key}")

    def create_download_link(self, req: Any) -> Any:
        from flyteidl2.dataproxy.dataproxy_service_pb2 import CreateDownloadLinkResponse, PreSignedURLs

        urls = [
            self.client.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": k})
            for k in self.keys
        ]
        return CreateDownloadLinkResponse(pre_signed_urls=PreSignedURLs(signed_url=urls))


async def test_dataproxy_with_boto3_presigned_urls(s3: None, bucket: str, boto_s3: Any, tmp_path: Path) -> None:
    from flyteidl2.dataproxy.dataproxy_service_pb2 import CreateDownloadLinkRequest

    api = Boto3DataProxy(boto_s3, bucket)
    data = os.urandom(123_457)
    src = tmp_path / "code.tgz"
    src.write_bytes(data)
    up = await DataProxyClient(api, project="p", domain="d").upload_file(src)
    md5 = hashlib.md5(data).hexdigest()
    assert up.native_url == f"s3://{bucket}/p/d/{md5}/code.tgz" and not up.skipped
    assert boto_s3.get_object(Bucket=bucket, Key=f"p/d/{md5}/code.tgz")["Body"].read() == data
    assert (await DataProxyClient(api, project="p", domain="d").upload_file(src)).skipped
    api.keys = [f"p/d/{md5}/code.tgz"]
    (out,) = await DataProxyClient(api).download(CreateDownloadLinkRequest(), tmp_path / "got")
    assert Path(out).read_bytes() == data


async def test_dropped_signed_upload_is_retried(
    s3: None, bucket: str, boto_s3: Any, moto: services.Service, tmp_path: Path
) -> None:
    data = os.urandom(600_000)
    src = tmp_path / "d.bin"
    src.write_bytes(data)
    url = boto_s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "d.bin"}, ExpiresIn=600)
    with services.DroppingProxy(moto.port, drop_after=200_000, drop_connections=1) as proxy:
        via_proxy = url.replace(f":{moto.port}/", f":{proxy.port}/")
        await signed_url.put_file(via_proxy, src, retry=signed_url.RetryPolicy(backoff=0.01))
        assert proxy.dropped == 1
    assert boto_s3.get_object(Bucket=bucket, Key="d.bin")["Body"].read() == data


async def test_upload_always_dropped_fails_once_and_leaves_nothing(
    s3: None, bucket: str, boto_s3: Any, moto: services.Service, tmp_path: Path
) -> None:
    src = tmp_path / "d.bin"
    src.write_bytes(os.urandom(600_000))
    url = boto_s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "never"}, ExpiresIn=600)
    with services.DroppingProxy(moto.port, drop_after=200_000) as proxy:
        via_proxy = url.replace(f":{moto.port}/", f":{proxy.port}/")
        with pytest.raises(TransferError, match="after 3 attempts") as e:
            await signed_url.put_file(via_proxy, src, retry=signed_url.RetryPolicy(attempts=3, backoff=0.01))
    assert "X-Amz-Signature" not in str(e.value) and "?" not in str(e.value)
    assert f"/{bucket}/never" in str(e.value)
    assert not await storage.exists(f"s3://{bucket}/never")


@pytest.mark.slow
async def test_multipart_upload_cut_off_leaves_no_object(
    s3_options: dict[str, Any], bucket: str, boto_s3: Any, moto: services.Service, tmp_path: Path
) -> None:
    src = tmp_path / "big"
    with open(src, "wb") as f:
        for _ in range(40):
            f.write(os.urandom(1 << 20))
    with services.DroppingProxy(moto.port, drop_after=6 << 20) as proxy, isolated_plugins(("s3", flyte_s3.hooks)):
        storage.configure(dict(s3_options, endpoint=f"http://127.0.0.1:{proxy.port}"))
        try:
            with pytest.raises(Exception) as e:
                await storage.put(src, f"s3://{bucket}/cut")
        finally:
            storage.configure({})
    assert f"s3://{bucket}/cut" in str(e.value)
    assert "Contents" not in boto_s3.list_objects_v2(Bucket=bucket, Prefix="cut")
    assert not boto_s3.list_multipart_uploads(Bucket=bucket).get("Uploads")  # aborted, not left dangling
