"""The devbox's ``ImageService.GetImage`` against real registries (a loopback ``docker-registry``; no engine)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyte_devbox.images import ImageRecords, ImageService, records_path


def _put_manifest(host: str, repo: str, tag: str) -> None:
    """A minimal manifest for ``repo:tag`` in the registry at ``host``."""
    config = b"{}"
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    with httpx.Client(timeout=10) as c:
        r = c.post(f"http://{host}/v2/{repo}/blobs/uploads/")
        r.raise_for_status()
        loc = r.headers["location"]
        loc = loc if loc.startswith("http") else f"http://{host}{loc}"
        c.put(f"{loc}{'&' if '?' in loc else '?'}digest={digest}", content=config).raise_for_status()
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                               "digest": digest}, "layers": []}
        c.put(f"http://{host}/v2/{repo}/manifests/{tag}", content=json.dumps(manifest),
              headers={"Content-Type": manifest["mediaType"]}).raise_for_status()


def _dead_host() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def _get(service: ImageService, name: str) -> Any:
    from flyteidl2.imagebuilder import definition_pb2, payload_pb2

    req = payload_pb2.GetImageRequest(id=definition_pb2.ImageIdentifier(name=name))
    return asyncio.run(service.get_image(req, None))  # type: ignore[arg-type]


def test_a_registry_that_does_not_answer_does_not_hide_the_image_in_another(tmp_path: Path) -> None:
    from flyte_testing.engines import EngineUnavailable, start_registry

    try:
        reg_cm = start_registry()
        reg = reg_cm.__enter__()
    except EngineUnavailable as e:
        pytest.skip(str(e))
    try:
        box: Any = SimpleNamespace(settings=SimpleNamespace(data_dir=tmp_path))
        service = ImageService(box)
        records = ImageRecords(records_path(box))
        _put_manifest(reg.host, "team/flyte", "abc123")
        records.put(f"{reg.host}/team/flyte:abc123", built=True)
        dead = _dead_host()
        records.put(f"{dead}/flyte:abc123", built=True)  # newer, in a registry that is gone

        assert _get(service, "flyte:abc123").image.fqin == f"{reg.host}/team/flyte:abc123"

        records.forget(f"{reg.host}/team/flyte:abc123")  # only the unreachable one left: cannot tell
        with pytest.raises(ConnectError) as e:
            _get(service, "flyte:abc123")
        assert e.value.code == Code.UNAVAILABLE and dead in e.value.message
    finally:
        reg_cm.__exit__(None, None, None)
