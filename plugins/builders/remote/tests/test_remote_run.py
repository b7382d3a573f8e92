"""``flyte run --runtime remote`` with ``image.builder: remote``: a devbox running actions in containers
(``--executor``) and building images (``--image-builder``) with the same engine builds the task image
first, and a second run does not build it again. The client has no engine at all."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flyte_devbox.images import ImageRecords
from flyte_devbox.testing import DevboxProcess

pytestmark = pytest.mark.slow

PROG = str(Path(__file__).parent / "programs" / "baked.py")


@pytest.fixture(scope="module", params=["docker", "podman"])
def run_env(request: pytest.FixtureRequest, python_base: Any,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, DevboxProcess]]:
    engine: str = request.param
    stack = request.getfixturevalue("dockerd_stack" if engine == "docker" else "podman_stack")
    base = python_base.image(stack)
    root = tmp_path_factory.mktemp(f"run-{engine}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "DOCKER_", "CONTAINER_HOST"))}
    env.update(HOME=str(root / "home"), FLYTE_CONFIG="", FLYTE_IMAGE_BUILD_NETWORK="none")
    env["DOCKER_HOST" if engine == "docker" else "CONTAINER_HOST"] = stack.service.url
    box = DevboxProcess(root / "data", concurrency=4, executor=engine, engine_url=stack.service.url,
                        image_builder=engine, env=env)
    box.start(timeout=60)
    yield stack, base, box
    box.stop(timeout=30)


def _run(box: DevboxProcess, stack: Any, base: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "FLYTE_CONFIG": "", "FLYTE_IMAGE_BUILDER": "remote",
           "FLYTE_IMAGE_REGISTRY": stack.registry.host, "FLYTE_TEST_PYTHON_BASE": base}
    return subprocess.run([exe, "--endpoint", box.endpoint, "--insecure", "run", "--runtime", "remote", PROG,
                           "fan_out", "--n", "2"], capture_output=True, text=True, timeout=600, env=env, cwd=cwd)


def test_flyte_run_builds_the_missing_image_on_the_devbox(run_env: tuple[Any, str, DevboxProcess],
                                                          tmp_path: Path) -> None:
    stack, base, box = run_env
    r = _run(box, stack, base, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    for i in range(2):
        assert f"{i}=built-by-the-devbox" in r.stdout, r.stdout
    records = ImageRecords(box.data_dir / "images.db")
    [uri] = [rec.fqin for rec in records.all()]
    rec = records.get(uri)
    assert rec is not None and rec.builds == 1 and uri.startswith(f"{stack.registry.host}/")
    assert f"building {uri} ..." in r.stderr and f"built and pushed {uri}" in r.stderr  # progress while it builds

    r2 = _run(box, stack, base, tmp_path)
    assert r2.returncode == 0, r2.stdout + r2.stderr
    rec = records.get(uri)
    assert rec is not None and rec.builds == 1  # the second run found the image: no build
    assert "building" not in r2.stderr
