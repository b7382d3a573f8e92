"""flyte-remote-builder is found through its entry point; what it says when it cannot build (no engine needed)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flyte import Image
from flyte.images import build_images
from flyte.images.errors import BuilderUnavailableError
from flyte_devbox.testing import DevboxProcess
from flyte_remote_builder.builder import RemoteBuilder


def test_registered_through_entry_point() -> None:
    from flyte.plugins.manager import PluginManager

    pm = PluginManager()
    assert pm.builders.get("remote") is RemoteBuilder
    assert pm.plugins["remote-builder"].distribution == "flyte-remote-builder"


def test_hooks_module_is_thin() -> None:
    code = ("import sys, flyte_remote_builder.hooks; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'grpc', 'flyteidl2', 'httpx'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_control_plane_configured() -> None:
    why = RemoteBuilder().check_available()
    assert why is not None and "no control plane is configured" in why


@pytest.fixture(scope="module")
def plain_devbox(tmp_path_factory: pytest.TempPathFactory) -> DevboxProcess:
    with DevboxProcess(tmp_path_factory.mktemp("plain-devbox")) as box:
        yield box


def test_devbox_without_image_builder_says_how_to_enable_it(plain_devbox: DevboxProcess, tmp_path: Path) -> None:
    builder = RemoteBuilder(endpoint=f"dns:///{plain_devbox.endpoint}", insecure=True)
    why = builder.check_available()
    assert why is not None and "--image-builder docker" in why, why
    img = Image.from_base("127.0.0.1:5000/base:1").with_commands(["true"]).clone(registry="127.0.0.1:5000")
    assert builder.exists(img.uri) is False  # GetImage answers without building anything
    with pytest.raises(BuilderUnavailableError) as e:
        build_images([img], builder=builder)
    assert "does not build images" in str(e.value) and "--image-builder" in str(e.value)


def test_flyte_build_against_a_devbox_without_image_builder(plain_devbox: DevboxProcess, tmp_path: Path) -> None:
    wf = tmp_path / "wf.py"
    wf.write_text(textwrap.dedent("""
        import flyte
        from flyte import Image

        env = flyte.TaskEnvironment(name="e", image=Image.from_base("127.0.0.1:5000/b:1").with_commands(["true"]))
    """))
    (tmp_path / ".flyte").mkdir()
    (tmp_path / ".flyte" / "config.yaml").write_text(
        f"admin:\n  endpoint: dns:///{plain_devbox.endpoint}\n  insecure: true\nimage:\n  registry: 127.0.0.1:5000\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "FLYTE_HOME": str(tmp_path / ".fh")}
    flyte = Path(sys.executable).parent / "flyte"
    r = subprocess.run([str(flyte), "build", str(wf), "--builder", "remote"], capture_output=True, text=True,
                       env=env, cwd=tmp_path, timeout=120)
    assert r.returncode != 0
    assert "--image-builder" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_unreachable_control_plane(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    builder = RemoteBuilder(endpoint=f"dns:///127.0.0.1:{port}", insecure=True)
    why = builder.check_available()
    assert why is not None and f"127.0.0.1:{port}" in why and "no control plane answering" in why


def test_devbox_whose_engine_is_gone(tmp_path: Path) -> None:
    """--image-builder docker with no Docker Engine: the devbox starts (with a warning) and a build request is
    a BuilderUnavailableError saying why, after the registry was asked (an image already there needs no engine)."""
    import os

    from flyte_testing.engines import EngineUnavailable, start_registry

    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "DOCKER_"))}
    env.update(HOME=str(tmp_path), FLYTE_CONFIG="", DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    try:
        registry = start_registry()
        reg = registry.__enter__()
    except EngineUnavailable as e:
        if os.environ.get("FLYTE_TESTING_REQUIRE_SERVICES", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{e} (FLYTE_TESTING_REQUIRE_SERVICES is set)")
        pytest.skip(str(e))
    try:
        with DevboxProcess(tmp_path / "box", image_builder="docker", env=env) as box:
            assert "cannot build on this host now" in (tmp_path / "box" / "devbox.log").read_text()
            builder = RemoteBuilder(endpoint=f"dns:///{box.endpoint}", insecure=True)
            assert builder.check_available() is None
            img = Image.from_base(f"{reg.host}/base:1").with_commands(["true"]).clone(registry=reg.host)
            with pytest.raises(BuilderUnavailableError) as e:
                build_images([img], builder=builder)
            assert f"{tmp_path}/no-docker.sock" in str(e.value), str(e.value)
    finally:
        registry.__exit__(None, None, None)


def test_devbox_refuses_remote_as_its_builder(tmp_path: Path) -> None:
    flyte = Path(sys.executable).parent / "flyte"
    r = subprocess.run([str(flyte), "devbox", "serve", "--port", "0", "--data", str(tmp_path), "--image-builder",
                        "remote"], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin",
                                                                                   "HOME": str(tmp_path)})
    assert r.returncode != 0 and "docker or podman" in r.stderr


def test_network_option_is_refused() -> None:
    from flyte.images.errors import ImageBuildError

    img = Image.from_base("127.0.0.1:5000/b:1").with_commands(["true"]).clone(registry="127.0.0.1:5000")
    with pytest.raises(ImageBuildError, match="FLYTE_IMAGE_BUILD_NETWORK"):
        RemoteBuilder(network="none", endpoint="dns:///127.0.0.1:1", insecure=True).build(img)


def test_devbox_start_says_when_its_image_builder_cannot_build(tmp_path: Path) -> None:
    """`flyte devbox start` runs the devbox in the background: what is wrong with --image-builder is said by start
    itself, not only written to the background process's log."""
    flyte = str(Path(sys.executable).parent / "flyte")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "FLYTE_CONFIG": "",
           "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    data = str(tmp_path / "box")
    r = subprocess.run([flyte, "devbox", "start", "--port", "0", "--data", data, "--image-builder", "remote"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0 and "docker or podman" in r.stderr, r.stderr
    r = subprocess.run([flyte, "devbox", "start", "--port", "0", "--data", data, "--image-builder", "docker"],
                       capture_output=True, text=True, timeout=60, env=env)
    try:
        assert r.returncode == 0, r.stderr
        assert "warning: --image-builder docker cannot build on this host now" in r.stderr
        assert f"{tmp_path}/no-docker.sock" in r.stderr
    finally:
        subprocess.run([flyte, "devbox", "stop", "--data", data], capture_output=True, text=True, timeout=60, env=env)
