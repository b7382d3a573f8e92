"""Dockerfile rendering and build-context staging."""

from __future__ import annotations

from pathlib import Path

from flyte._image import Image
from flyte.images.dockerfile import render_dockerfile, stage_context


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink())


def test_every_layer_renders(tmp_path: Path) -> None:
    (tmp_path / "req.txt").write_text("numpy\n")
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "pyproject.toml").write_text("[project]\nname='p'\n")
    (proj / "uv.lock").write_text("lock")
    (tmp_path / "one.py").write_text("1")
    img = (
        Image.from_base("python:3.12-slim")
        .with_apt_packages("git", "curl")
        .with_pip_packages("pandas>=2", "requests", index_url="https://pypi.example/simple", pre=True)
        .with_requirements(tmp_path / "req.txt", extra_args="--no-deps")
        .with_uv_project(proj / "pyproject.toml")
        .with_env_vars({"A": 'quote " and space', "PATH": "/opt/bin:$PATH"})
        .with_workdir("/app")
        .with_source_file(tmp_path / "one.py", "/app/")
        .with_commands(["echo done"])
    )
    text = render_dockerfile(img)
    lines = text.splitlines()
    assert lines[0] == "FROM python:3.12-slim"
    assert "apt-get install -y --no-install-recommends git curl" in text
    assert "pip install --no-cache-dir --index-url https://pypi.example/simple --pre 'pandas>=2' requests" in text
    assert 'COPY ["layers/2/req.txt", "/tmp/flyte-build/2/requirements.txt"]' in lines
    assert "--no-deps -r /tmp/flyte-build/2/requirements.txt" in text
    assert "uv export --frozen" in text and "uv pip install --system" in text
    assert 'ENV A="quote \\" and space"' in lines
    assert 'ENV PATH="/opt/bin:$PATH"' in lines
    assert "WORKDIR /app" in lines
    assert 'COPY ["layers/6/one.py", "/app/"]' in lines
    assert lines[-1] == "RUN echo done"
    assert not any("--mount" in line for line in lines)  # the classic builder must understand it


def test_stage_context_holds_exactly_the_hashed_files(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg" / "__pycache__").mkdir(parents=True)
    (src / "pkg" / "m.py").write_text("x")
    (src / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    (src / "big.log").write_text("x")
    (src / "link").symlink_to("pkg/m.py")
    (src / ".dockerignore").write_text("*.log\n")
    img = Image.from_base("alpine").with_source_folder(src).with_source_folder(src, "/abs", copy_contents_only=True)
    ctx = tmp_path / "ctx"
    stage_context(img, ctx)
    assert _files(ctx) == [
        "Dockerfile",
        "layers/0/.dockerignore",
        "layers/0/link",
        "layers/0/pkg/m.py",
        "layers/1/.dockerignore",
        "layers/1/link",
        "layers/1/pkg/m.py",
    ]
    assert (ctx / "layers" / "0" / "link").is_symlink()
    df = (ctx / "Dockerfile").read_text()
    assert 'COPY ["layers/0/", "./src/"]' in df and 'COPY ["layers/1/", "/abs/"]' in df


def test_dockerfile_image_context(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine\nCOPY a.txt /\n")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "secret.env").write_text("s")
    (tmp_path / ".dockerignore").write_text("secret.env\n")
    img = Image.from_dockerfile(tmp_path / "Dockerfile", name="x")
    ctx = tmp_path.parent / (tmp_path.name + "-ctx")
    dockerfile = stage_context(img, ctx)
    assert dockerfile.name == "Dockerfile.flyte"
    assert "secret.env" not in _files(ctx) and "a.txt" in _files(ctx)
    assert render_dockerfile(img) == "FROM alpine\nCOPY a.txt /\n"
