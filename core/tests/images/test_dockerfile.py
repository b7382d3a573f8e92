"""Dockerfile rendering and build-context staging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    assert 'ENV PATH="/opt/bin:$PATH"' in lines  # $PATH is expanded by the engine, as in the official SDK
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
    # the user's own Dockerfile is used; nothing is added that `COPY .` would pick up
    assert dockerfile == ctx / "Dockerfile"
    assert _files(ctx) == [".dockerignore", "Dockerfile", "a.txt"]
    assert render_dockerfile(img) == "FROM alpine\nCOPY a.txt /\n"


def test_dockerfile_ignored_by_its_dockerignore_stays_out_of_copy(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "build.Dockerfile").write_text("FROM alpine\nCOPY . /ctx/\n")
    (proj / "a.txt").write_text("a")
    (proj / ".dockerignore").write_text("*.Dockerfile")  # no trailing newline
    img = Image.from_dockerfile(proj / "build.Dockerfile", name="x")
    ctx = tmp_path / "ctx"
    dockerfile = stage_context(img, ctx)
    assert dockerfile == ctx / "build.Dockerfile"  # the engine needs it...
    assert (ctx / ".dockerignore").read_text() == "*.Dockerfile\n/build.Dockerfile\n"  # ...COPY does not see it
    assert not (ctx / "Dockerfile.flyte").exists()


def test_env_values_expand_variables_and_keep_quotes_and_backslashes() -> None:
    """`$NAME` expands as in any Dockerfile ENV (official semantics); `\\$` is a literal dollar;
    quotes and other backslashes are escaped so they reach the container as written."""
    from flyte.images.dockerfile import env_value

    value = 'a"b ${BASE}/bin:$BASE \\$lit \\ é\tend\\'
    img = Image.from_base("alpine").with_env_vars({"Q": value})
    [line] = [ln for ln in render_dockerfile(img).splitlines() if ln.startswith("ENV ")]
    assert line == 'ENV Q="a\\"b ${BASE}/bin:$BASE \\$lit \\\\ é\tend\\\\"'
    assert env_value("plain") == '"plain"'


def test_secret_mounts_are_refused_when_staging(tmp_path: Path) -> None:
    import pytest
    from flyte.images.errors import ImageBuildError

    img = Image.from_base("alpine").with_pip_packages("private-pkg", secret_mounts=["GITHUB_PAT"])
    with pytest.raises(ImageBuildError) as e:
        stage_context(img, tmp_path / "ctx")
    msg = str(e.value)
    assert "GITHUB_PAT" in msg and "BuildKit" in msg and "PipPackages" in msg


def test_local_wheel_and_project_are_staged_and_installed(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "pkg-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "pyproject.toml").write_text("[project]\nname='lib'\n")
    (tmp_path / "lib" / "junk.log").write_text("x")
    (tmp_path / "lib" / ".dockerignore").write_text("*.log\n")
    monkeypatch.chdir(tmp_path)
    img = Image.from_base("python:3.12").with_pip_packages("./dist/pkg-1.0-py3-none-any.whl", "./lib", "requests")
    ctx = tmp_path / "ctx"
    stage_context(img, ctx)
    assert _files(ctx) == [
        "Dockerfile",
        "layers/0/lib/.dockerignore",
        "layers/0/lib/pyproject.toml",
        "layers/0/pkg-1.0-py3-none-any.whl",
    ]
    lines = (ctx / "Dockerfile").read_text().splitlines()
    assert 'COPY ["layers/0/", "/tmp/flyte-build/0/"]' in lines
    assert (
        "RUN python3 -m pip install --no-cache-dir /tmp/flyte-build/0/pkg-1.0-py3-none-any.whl "
        "/tmp/flyte-build/0/lib requests"
    ) in lines
