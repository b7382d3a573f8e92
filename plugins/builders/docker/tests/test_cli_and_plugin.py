"""flyte-docker is found through its entry point, and ``flyte build`` drives it end to end."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flyte_docker.builder import DockerBuilder
from flyte_testing.engines import Stack


def test_registered_through_entry_point() -> None:
    from flyte.plugins.manager import PluginManager

    pm = PluginManager()
    assert pm.builders.get("docker") is DockerBuilder
    assert pm.plugins["docker"].distribution == "flyte-docker"


def test_hooks_module_is_thin() -> None:
    code = "import sys, flyte_docker.hooks; print([m for m in sys.modules if m.split('.')[0] == 'docker'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_socket_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    why = DockerBuilder().check_available()
    assert why is not None and f"{tmp_path}/docker.sock" in why and "DOCKER_HOST" in why


@pytest.mark.slow
def test_flyte_build_cli_end_to_end(tmp_path: Path, podman_stack: Stack) -> None:
    stack = podman_stack  # a fixture of flyte-testing's pytest plugin
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text("print('hi')\n")
    wf = tmp_path / "wf.py"
    wf.write_text(textwrap.dedent(f"""
        from pathlib import Path
        import flyte
        from flyte import Image

        env = flyte.TaskEnvironment(
            name="cli_env",
            image=Image.from_base({stack.base_image!r})
            .with_source_folder(Path({str(tmp_path / 'app')!r}), "/app")
            .with_commands(["cat /app/main.py"]),
        )
    """))
    (tmp_path / ".flyte").mkdir()
    config = f"image:\n  builder: docker\n  registry: {stack.registry.host}\n"
    (tmp_path / ".flyte" / "config.yaml").write_text(config)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(tmp_path),
        "DOCKER_HOST": stack.service.url,
        "FLYTE_IMAGE_BUILD_NETWORK": "none",
    }
    flyte = Path(sys.executable).parent / "flyte"
    r = subprocess.run([str(flyte), "build", str(wf)], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    [uri] = r.stdout.split()
    assert uri.startswith(f"{stack.registry.host}/flyte:")
    assert "built and pushed" in r.stderr
    assert DockerBuilder(base_url=stack.service.url).exists(uri)
    r2 = subprocess.run([str(flyte), "build", str(wf)], capture_output=True, text=True, env=env, cwd=tmp_path,
                        timeout=120)
    assert r2.returncode == 0 and r2.stdout.split() == [uri]
    assert "not rebuilt" in r2.stderr
