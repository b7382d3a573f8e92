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
