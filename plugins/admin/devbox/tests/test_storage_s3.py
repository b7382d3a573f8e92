"""--storage s3://...: data in a bucket (moto's S3 server) through the storage plugins and presigned URLs."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid

import grpc
import httpx
import pytest
from flyte_devbox.testing import DevboxProcess, project_id, py_spec, wait_phase
from flyteidl2.common import phase_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2 as dpp
from flyteidl2.dataproxy import dataproxy_service_pb2_grpc as dpg
from flyteidl2.task import common_pb2
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import run_service_pb2_grpc as rsg

pytest.importorskip("flyte_s3")

# The action reads its inputs from and writes its outputs to the bucket with s3fs, using the same
# FLYTE_AWS_* settings the devbox passes on.
ACTION = """
import os, sys, s3fs
from flyteidl2.task import common_pb2
fs = s3fs.S3FileSystem(endpoint_url=os.environ["FLYTE_AWS_ENDPOINT"], key=os.environ["FLYTE_AWS_ACCESS_KEY_ID"],
                       secret=os.environ["FLYTE_AWS_SECRET_ACCESS_KEY"])
prefix, inputs = sys.argv[1], sys.argv[2]
assert prefix.startswith("s3://") and inputs.startswith("s3://"), (prefix, inputs)
x = common_pb2.Inputs.FromString(fs.cat_file(inputs)).literals[0].value.scalar.primitive.integer
out = common_pb2.Outputs()
out.literals.add(name="o0").value.scalar.primitive.integer = x + 1
fs.pipe_file(prefix + "/outputs.pb", out.SerializeToString())
"""


@pytest.fixture
def s3box(moto, tmp_path):
    import boto3

    bucket = f"devbox-{uuid.uuid4().hex[:10]}"
    boto3.client(
        "s3",
        endpoint_url=moto.url,
        aws_access_key_id=moto.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=moto.env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLYTE_AWS"))}
    env.update(
        FLYTE_AWS_ENDPOINT=moto.url,
        FLYTE_AWS_ACCESS_KEY_ID=moto.env["AWS_ACCESS_KEY_ID"],
        FLYTE_AWS_SECRET_ACCESS_KEY=moto.env["AWS_SECRET_ACCESS_KEY"],
        AWS_DEFAULT_REGION="us-east-1",
        FLYTE_CONFIG="",
    )
    box = DevboxProcess(tmp_path / "box", storage=f"s3://{bucket}/devbox", env=env)
    box.start()
    yield box, bucket
    box.stop()


def test_upload_through_a_presigned_url_lands_in_the_bucket(s3box, moto):
    box, bucket = s3box
    data = os.urandom(50_000)
    md5 = hashlib.md5(data).digest()
    with grpc.insecure_channel(box.endpoint) as ch:
        loc = dpg.DataProxyServiceStub(ch).CreateUploadLocation(
            dpp.CreateUploadLocationRequest(
                project="flytesnacks", domain="development", filename="f.bin", content_md5=md5
            )
        )
    assert loc.native_url.startswith(f"s3://{bucket}/devbox/uploads/")
    assert loc.signed_url.startswith(moto.url) and "Signature" in loc.signed_url
    assert loc.headers["Content-MD5"] == base64.b64encode(md5).decode()
    r = httpx.put(loc.signed_url, content=data, headers=dict(loc.headers))
    assert r.status_code == 200, r.text
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1",
                      aws_access_key_id=moto.env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=moto.env["AWS_SECRET_ACCESS_KEY"])  # fmt: skip
    key = loc.native_url.split(f"s3://{bucket}/", 1)[1]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data


def test_a_run_keeps_inputs_and_outputs_in_the_bucket(s3box):
    box, bucket = s3box
    inputs = common_pb2.Inputs()
    inputs.literals.add(name="x").value.scalar.primitive.integer = 41
    with grpc.insecure_channel(box.endpoint) as ch:
        offloaded = (
            dpg.DataProxyServiceStub(ch)
            .UploadInputs(dpp.UploadInputsRequest(project_id=project_id(), task_spec=py_spec(ACTION), inputs=inputs))
            .offloaded_input_data
        )
        assert offloaded.uri.startswith(f"s3://{bucket}/devbox/inputs/")
        stub = rsg.RunServiceStub(ch)
        created = stub.CreateRun(
            rs.CreateRunRequest(
                project_id=project_id(), task_spec=py_spec(ACTION, outputs=True), offloaded_input_data=offloaded
            )
        )
        aid = created.run.action.id
        d = wait_phase(stub, aid.run, {phase_pb2.ACTION_PHASE_SUCCEEDED, phase_pb2.ACTION_PHASE_FAILED}, 60)
        assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED, d.action.error_info.message
        data = stub.GetActionData(rs.GetActionDataRequest(action_id=aid))
        assert data.outputs.literals[0].value.scalar.primitive.integer == 42
        uris = stub.GetActionDataURIs(rs.GetActionDataURIsRequest(action_id=aid))
        assert uris.outputs_uri.startswith(f"s3://{bucket}/devbox/runs/") and uris.outputs_uri.endswith(
            "/a0/1/outputs.pb"
        )
