"""The official SDK's remote builder (flyte==2.12.1, in dev.py's .official-venv) against a flyte-devbox with
``--image-builder``: it finds the build task, builds through it, and the second request is answered by
``GetImage`` without a build."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from flyte_devbox.images import ImageRecords
from flyte_devbox.testing import official_python, run_sdk_program

OFFICIAL = official_python()
PROG = str(Path(__file__).parent / "programs" / "official_build.py")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(OFFICIAL is None, reason="the official SDK is not installed (python3 dev.py setup makes "
                                                ".official-venv)"),
]


def test_official_remote_builder_builds_on_the_devbox(remote_env: Any, tmp_path: Path) -> None:
    assert OFFICIAL is not None
    marker = uuid.uuid4().hex[:12]
    args = (PROG, remote_env.box.endpoint, remote_env.stack.base_image, remote_env.stack.registry.host, marker)
    r, out = run_sdk_program(OFFICIAL, *args, cwd=tmp_path, home=tmp_path, timeout=300)
    # its HTTP library sometimes aborts at exit after everything succeeded: judge by what it printed
    assert "URI" in out, r.stdout + r.stderr
    uri = out["URI"].strip()
    assert uri.startswith(f"{remote_env.stack.registry.host}/official:")
    rec = ImageRecords(remote_env.records).get(uri)
    assert rec is not None and rec.builds == 1
    p = remote_env.stack.podman
    p.run("podman", "rmi", "-f", uri, check=False)
    p.run("podman", "pull", "--tls-verify=false", uri, timeout=300)
    assert p.run("podman", "run", "--rm", "--network", "none", uri, "cat", "/official.txt").stdout.strip() == marker

    r2, out2 = run_sdk_program(OFFICIAL, *args, cwd=tmp_path, home=tmp_path, timeout=300)
    assert out2.get("URI", "").strip() == uri, r2.stdout + r2.stderr
    rec = ImageRecords(remote_env.records).get(uri)
    assert rec is not None and rec.builds == 1  # found through GetImage: no second build
