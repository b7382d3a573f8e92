"""`flyte run --raw-data-path s3://...` as a user runs it: credentials from the config file, outputs in the bucket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flyte_testing import services

WORKFLOW = '''
import flyte
from flyte.io import File

env = flyte.TaskEnvironment(name="s3cli")

@env.task
async def write(text: str) -> File:
    f = File.new_remote()
    async with f.open("wb") as fh:
        await fh.write(text.encode())
    return f

@env.task
async def main(text: str = "hello") -> str:
    f = await write(text)
    async with f.open("rb") as fh:
        return (await fh.read()).decode() + "|" + f.path
'''


def _flyte(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    # the config file is found the usual way (./.flyte/config.yaml); no FLYTE_CONFIG, whose empty value means none
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLYTE_AWS")) and k != "FLYTE_CONFIG"}
    env.update(FLYTE_HOME=str(home), HOME=str(home), FLYTE_DISABLE_PLUGINS="gcs,azure,example")
    return subprocess.run([sys.executable, "-m", "flyte.cli.main", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


@pytest.mark.slow
def test_raw_data_path_on_s3_with_credentials_from_the_config_file(tmp_path: Path, moto_auth: services.Service) -> None:
    import boto3
    from botocore.config import Config

    keys = moto_auth.env
    client = boto3.client("s3", endpoint_url=moto_auth.url, aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1",
                          config=Config(signature_version="s3v4"))
    client.create_bucket(Bucket="cli-data")
    (tmp_path / "wf.py").write_text(WORKFLOW)
    (tmp_path / ".flyte").mkdir()
    (tmp_path / ".flyte" / "config.yaml").write_text(json.dumps({"storage": {"s3": {
        "endpoint": moto_auth.url,
        "access_key_id": keys["AWS_ACCESS_KEY_ID"],
        "secret_access_key": keys["AWS_SECRET_ACCESS_KEY"],
        "region": "us-east-1",
    }}}))
    p = _flyte(["run", "--raw-data-path", "s3://cli-data/runs", "wf.py", "main", "--text", "from-cli"], tmp_path,
               tmp_path / "home")
    assert p.returncode == 0, p.stderr
    assert "from-cli|s3://cli-data/runs/" in p.stdout
    listed = [o["Key"] for o in client.list_objects_v2(Bucket="cli-data", Prefix="runs/")["Contents"]]
    assert listed and not any(".flyte-write-check" in k for k in listed)

    # a bucket that does not exist is one clear error, before any task runs
    p = _flyte(["run", "--raw-data-path", "s3://no-such-bucket/x", "wf.py", "main"], tmp_path, tmp_path / "home")
    assert p.returncode == 1 and "no-such-bucket" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "home" / "runs").exists() or len(list((tmp_path / "home" / "runs").iterdir())) == 1


def test_missing_backend_is_reported_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "wf.py").write_text(WORKFLOW)
    env_home = tmp_path / "home"
    p = _flyte(["run", "--raw-data-path", "gs://bucket/x", "wf.py", "main"], tmp_path, env_home)
    assert p.returncode == 1
    assert "flyte-gcs" in p.stderr and "Traceback" not in p.stderr
    assert not (env_home / "runs").exists()
