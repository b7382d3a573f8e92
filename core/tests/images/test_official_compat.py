"""Image definitions written for the official SDK (2.12.1) run unchanged on flyte-core.

The same script is run by this SDK and by the official one (the Python in FLYTE_OFFICIAL_PYTHON, which
`python3 dev.py test` installs and sets).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import flyte.config
import pytest
from flyte._image import Image, ImageSpecError
from flyte.images.builder import ImageBuilder
from flyte.images.dockerfile import render_dockerfile

OFFICIAL_PYTHON = os.environ.get("FLYTE_OFFICIAL_PYTHON", "")

SCRIPT = textwrap.dedent("""
    from pathlib import Path

    import flyte
    from flyte import Secret

    HERE = Path(__file__).parent

    # positional, in the official order: python_version, flyte_version, install_flyte, registry, registry_secret, name
    debian = flyte.Image.from_debian_base((3, 12), None, True, "ghcr.io/acme", "registry-creds", "etl")
    debian2 = flyte.Image.from_debian_base(python_version=(3, 12), registry="ghcr.io/acme",
                                           registry_secret=Secret(key="rc"), name="etl2", platform=("linux/amd64",))
    custom = (
        flyte.Image.from_base("python:3.12-slim")
        .clone(name="custom", registry="ghcr.io/acme", extendable=True)
        .with_apt_packages("git", secret_mounts=[Secret(key="apt-secret", mount="/etc/flyte/secrets")])
        .with_pip_packages("requests", "numpy>=1.26", secret_mounts=["GITHUB_PAT"])
        .with_pip_packages("./dist/pkg-1.0-py3-none-any.whl")
        .with_requirements(HERE / "requirements.txt", secret_mounts="PIP_TOKEN")
        .with_uv_project(HERE / "proj" / "pyproject.toml", secret_mounts=[Secret(key="UV_TOKEN")])
        .with_commands(["echo hi"], secret_mounts=[Secret(key="tok", as_env_var="TOK")])
        .with_env_vars({"WORKERS": 4, "DEBUG": True, "NAME": "x"})
        .with_workdir("/app")
        .with_source_folder(HERE / "src")
        .with_source_file(HERE / "main.py")
        .with_dockerignore(HERE / ".dockerignore")
    )
    plain = (
        flyte.Image.from_base("python:3.12-slim")
        .clone(name="plain", extendable=True)
        .with_pip_packages("./dist/pkg-1.0-py3-none-any.whl")
        .with_env_vars({"PORT": 8080})
    )
    df = flyte.Image.from_dockerfile(HERE / "Dockerfile", "ghcr.io/acme", "df", platform=("linux/amd64",))
    # positional, in the official order: registry, registry_secret, name
    moved = custom.clone("ghcr.io/other", None, "renamed", extendable=True, platform=("linux/arm64",))
    env = flyte.TaskEnvironment(name="etl", image=custom)
    print("OK")
""")


def _project(root: Path) -> Path:
    (root / "dist").mkdir(parents=True)
    (root / "dist" / "pkg-1.0-py3-none-any.whl").write_bytes(b"not really a wheel")
    (root / "requirements.txt").write_text("pandas\n")
    (root / "proj").mkdir()
    (root / "proj" / "pyproject.toml").write_text("[project]\nname = 'proj'\nversion = '0.1'\n")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("X = 1\n")
    (root / "main.py").write_text("print('main')\n")
    (root / ".dockerignore").write_text("*.log\n")
    (root / "Dockerfile").write_text("FROM python:3.12-slim\n")
    (root / "images.py").write_text(SCRIPT + "\nif __name__ == '__main__':\n    pass\n")
    return root / "images.py"


def _run(python: Path | str, script: Path, extra: str = "") -> subprocess.CompletedProcess[str]:
    code = f"import runpy, sys; sys.argv = [{str(script)!r}]; g = runpy.run_path({str(script)!r}); {extra}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "PYTHONPATH"))}
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=script.parent, env=env,
                          timeout=120)


def test_official_style_script_runs_here(tmp_path: Path) -> None:
    script = _project(tmp_path / "work")
    show = "print(g['custom'].uri, g['moved'].uri, g['debian'].uri, g['df'].uri, g['plain'].uri)"
    r = _run(sys.executable, script, show)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "OK"
    custom, moved, debian, df, plain = r.stdout.splitlines()[1].split()
    assert custom.startswith("ghcr.io/acme/custom:") and moved.startswith("ghcr.io/other/renamed:")
    assert debian.startswith("ghcr.io/acme/etl:") and df.startswith("ghcr.io/acme/df:")
    assert plain.startswith("plain:")


@pytest.mark.skipif(not OFFICIAL_PYTHON, reason="FLYTE_OFFICIAL_PYTHON not set (python3 dev.py test sets it)")
def test_official_sdk_accepts_the_same_script(tmp_path: Path) -> None:
    script = _project(tmp_path / "work")
    r = _run(OFFICIAL_PYTHON, script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "OK"


def test_official_signatures_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flyte._secret import Secret

    img = Image.from_debian_base((3, 12), None, False, "ghcr.io/acme", Secret(key="rc"), "svc")
    assert img.uri.startswith("ghcr.io/acme/svc:") and img.registry_secret == Secret(key="rc")
    assert img.clone(registry_secret="other").tag == img.tag  # where to pull from is not what is built
    env = Image.from_base("alpine").with_env_vars({"N": 4, "B": False, "S": "s"})
    assert dict(env.layers[0].env_vars) == {"N": "4", "B": "False", "S": "s"}  # type: ignore[attr-defined]
    with pytest.raises(ImageSpecError, match="value of X"):
        Image.from_base("alpine").with_env_vars({"X": None})
    with pytest.raises(ImageSpecError, match="extendable"):
        Image.from_base("alpine").clone(name="x", extendable=False).with_commands(["true"])
    sealed = Image.from_base("alpine").clone(name="x", extendable=False)
    assert sealed.clone(extendable=True).with_commands(["true"]).needs_build
    with pytest.raises(ImageSpecError, match="does not exist"):
        Image.from_base("alpine").with_pip_packages("./dist/missing-1.0-py3-none-any.whl")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notaproject").mkdir()
    with pytest.raises(ImageSpecError, match="not a Python project"):
        Image.from_base("alpine").with_pip_packages("./notaproject")
    rendered = render_dockerfile(Image.from_base("alpine").with_commands(["true"], secret_mounts=["T"]))
    assert "--mount" not in rendered  # never rendered; the builders refuse it (see test_dockerfile)


def _yaml(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class _Fake(ImageBuilder):
    name = "fake"
    available: str | None = None

    def check_available(self) -> str | None:
        return self.available

    def build(self, image: Any, *, push: bool = True, on_output: Any = None) -> str:
        return str(image.uri)


def test_config_yml_and_official_builder_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flyte.images.config import load_image_config
    from flyte.images.select import get_builder
    from flyte.plugins import hookimpl
    from flyte.plugins.manager import isolated_plugins

    class Docker(_Fake):
        name = "docker"
        available = "no Docker Engine socket"

    class Podman(_Fake):
        name = "podman"

    monkeypatch.delenv("FLYTE_CONFIG", raising=False)  # search as usual (an empty one means no file)
    monkeypatch.delenv("FLYTE_IMAGE_BUILDER", raising=False)
    monkeypatch.delenv("FLYTE_IMAGE_REGISTRY", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    _yaml(tmp_path / ".flyte" / "config.yml", "image:\n  builder: local\n  registry: 127.0.0.1:5000\n"
          "  registry_credentials:\n    reg.example.com:5000: {username: u, password: p}\n")
    flyte.config.set_config(None)  # read the files again, as a fresh process would
    cfg = load_image_config()
    assert (cfg.builder, cfg.registry, cfg.source) == ("local", "127.0.0.1:5000", tmp_path / ".flyte" / "config.yml")
    assert cfg.registry_credentials == {"reg.example.com:5000": {"username": "u", "password": "p"}}
    monkeypatch.setenv("FLYTE_IMAGE_REGISTRY", "env.example:1")
    assert load_image_config().registry == "env.example:1"

    hooks = types.SimpleNamespace(flyte_image_builders=hookimpl(lambda: [Docker, Podman]))
    with isolated_plugins(("both", hooks)):
        assert isinstance(get_builder(), Podman)  # `local`: docker if it can run here, else podman
        Docker.available = None
        assert isinstance(get_builder(), Docker)
        assert isinstance(get_builder("local-podman"), Podman)
