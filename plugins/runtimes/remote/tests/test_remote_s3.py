"""The remote runtime with the devbox's data in an S3 bucket (moto's server): bundle, inputs, outputs, File/Dir."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("flyte_s3")


@pytest.fixture(scope="module")
def s3_remote(moto: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import boto3
    import flyte
    from flyte_devbox.testing import DevboxProcess

    bucket = f"remote-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=moto.url, aws_access_key_id=moto.env["AWS_ACCESS_KEY_ID"],
                 aws_secret_access_key=moto.env["AWS_SECRET_ACCESS_KEY"],
                 region_name="us-east-1").create_bucket(Bucket=bucket)
    creds = {"FLYTE_AWS_ENDPOINT": moto.url, "FLYTE_AWS_ACCESS_KEY_ID": moto.env["AWS_ACCESS_KEY_ID"],
             "FLYTE_AWS_SECRET_ACCESS_KEY": moto.env["AWS_SECRET_ACCESS_KEY"], "AWS_DEFAULT_REGION": "us-east-1"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLYTE_AWS"))}
    env.update(creds, FLYTE_CONFIG="")
    programs = str(Path(__file__).parent / "programs")
    if programs not in sys.path:
        sys.path.insert(0, programs)
    box = DevboxProcess(tmp_path_factory.mktemp("s3box"), storage=f"s3://{bucket}/devbox", env=env,
                        worker_paths=(os.path.dirname(sys.executable),))
    box.start()
    saved = {k: os.environ.get(k) for k in creds}
    os.environ.update(creds)  # this process reads outputs' File/Dir from the bucket too
    flyte.init(endpoint=box.endpoint, insecure=True)
    try:
        yield box, bucket
    finally:
        flyte.init()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        box.stop()


def test_fan_out_with_data_in_the_bucket(s3_remote: Any) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.fan_out, n=5)
    assert run.outputs()[0] == 30


def test_file_and_dir_in_the_bucket(s3_remote: Any) -> None:
    import e2e_prog
    import flyte

    out = flyte.run(e2e_prog.read_both, text="in s3", n=2).outputs()[0]
    assert out == "in s3|['f0.txt', 'f1.txt']"
