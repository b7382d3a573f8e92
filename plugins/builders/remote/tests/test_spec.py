"""Image -> ImageSpec + context tarball (the client) -> Image (the devbox): what is built is what was hashed."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest
from flyte import Image
from flyte.images.dockerfile import render_dockerfile, stage_context
from flyte.images.errors import ImageBuildError
from flyte.remote.bundle import safe_extract
from flyte_devbox.image_build import BuildRefused, image_from_spec
from flyte_remote_builder.builder import short_name
from flyte_remote_builder.spec import image_spec, write_context


def _tree(root: Path) -> dict[str, tuple[str, bool]]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            out[p.relative_to(root).as_posix()] = (digest, bool(p.stat().st_mode & 0o100))
    return out


@pytest.fixture
def project(tmp_path: Path) -> Path:
    src = tmp_path / "proj"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "main.py").write_text("print('hi')\n")
    (src / "run.sh").write_text("#!/bin/sh\necho run\n")
    (src / "run.sh").chmod(0o755)
    (src / "skip.log").write_text("noise\n")
    (src / ".dockerignore").write_text("*.log\n")
    (tmp_path / "requirements.txt").write_text("requests\n")
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "demo-1.0-py3-none-any.whl").write_bytes(b"not really a wheel")
    (tmp_path / "uvp").mkdir()
    (tmp_path / "uvp" / "pyproject.toml").write_text("[project]\nname = 'uvp'\nversion = '0'\n")
    (tmp_path / "uvp" / "uv.lock").write_text("version = 1\n")
    return src


def _image(tmp_path: Path, project: Path) -> Image:
    return (
        Image.from_base("127.0.0.1:5000/base:latest")
        .with_apt_packages("git", "curl")
        .with_env_vars({"A": "1", "PATH": "/opt/bin:$PATH", "Q": 'say "hi" \\ there'})
        .with_workdir("/app")
        .with_source_folder(project, "/app/proj")
        .with_source_file(project / "run.sh", "/usr/local/bin/")
        .with_requirements(tmp_path / "requirements.txt", index_url="https://pypi.example/simple", pre=True)
        .with_pip_packages("numpy>=2", str(tmp_path / "wheels" / "demo-1.0-py3-none-any.whl"), extra_args="--no-deps")
        .with_uv_project(tmp_path / "uvp" / "pyproject.toml")
        .with_commands(["echo one", "echo two"])
        .clone(registry="127.0.0.1:5000", name="roundtrip")
    )


def test_roundtrip_builds_the_same_dockerfile_and_context(tmp_path: Path, project: Path) -> None:
    img = _image(tmp_path, project)
    spec, files = image_spec(img)
    tarball = write_context(files, tmp_path / "ctx.tar.gz")
    assert tarball is not None
    # through the wire and unpacked as the devbox does
    from flyteidl2.imagebuilder import definition_pb2

    wire = definition_pb2.ImageSpec.FromString(spec.SerializeToString())
    ctx = tmp_path / "unpacked"
    safe_extract(tarball, ctx)
    rebuilt = image_from_spec(wire, ctx, img.uri)
    assert rebuilt.uri == img.uri
    assert render_dockerfile(rebuilt) == render_dockerfile(img)
    stage_context(img, tmp_path / "a")
    stage_context(rebuilt, tmp_path / "b")
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a == b
    assert "layers/3/skip.log" not in a and "layers/3/pkg/main.py" in a  # .dockerignore applied once, on the client
    assert a["layers/4/run.sh"][1]  # the executable bit survives


def test_context_tarball_is_deterministic(tmp_path: Path, project: Path) -> None:
    _, files = image_spec(_image(tmp_path, project))
    one = write_context(files, tmp_path / "1.tar.gz")
    (project / "pkg" / "main.py").touch()  # a new mtime changes nothing
    two = write_context(files, tmp_path / "2.tar.gz")
    assert one is not None and two is not None and one.read_bytes() == two.read_bytes()
    with tarfile.open(one) as tf:
        names = tf.getnames()
        assert names == sorted(names)
        assert all(m.mtime == 0 and m.uid == 0 and not m.uname for m in tf.getmembers())


def test_no_files_no_context(tmp_path: Path) -> None:
    spec, files = image_spec(Image.from_base("busybox:1").with_commands(["true"]).clone(registry="r.example"))
    assert files == [] and write_context(files, tmp_path / "c.tar.gz") is None
    assert spec.base_image == "busybox:1" and list(spec.layers[0].commands.cmd) == ["true"]


def test_dockerfile_images_are_refused(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    with pytest.raises(ImageBuildError, match="local builder"):
        image_spec(Image.from_dockerfile(tmp_path / "Dockerfile", registry="r.example"))


def test_devbox_refuses_paths_outside_the_context(tmp_path: Path) -> None:
    from flyteidl2.imagebuilder import definition_pb2 as d

    (tmp_path / "secret.txt").write_text("x")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    spec = d.ImageSpec(base_image="busybox", layers=[d.Layer(copy_config=d.CopyConfig(src="../secret.txt", dst="/"))])
    with pytest.raises(BuildRefused, match="outside the build context"):
        image_from_spec(spec, ctx, "r.example/x:1")


def test_short_name() -> None:
    assert short_name("127.0.0.1:5000/a/b:0123") == "b:0123"
    assert short_name("ghcr.io/org/flyte:abc") == "flyte:abc"
    from flyte_devbox.images import short_name as devbox_short_name

    # the devbox records images under the name the client asks GetImage for: both parse references alike
    for ref in ("127.0.0.1:5000/a/b:0123", "host:5000/repo", "x", "reg.io/x@sha256:" + "a" * 64, "x:1"):
        assert devbox_short_name(ref) == short_name(ref), ref


def test_links_the_context_cannot_carry_are_named(tmp_path: Path) -> None:
    """The context is plain files (the control plane unpacks nothing else): a link to a file travels as that file;
    a link to nothing or to a folder is an ImageBuildError naming it and saying what to do, not a crash."""
    from flyte_remote_builder.spec import write_context

    app = tmp_path / "app"
    (app / "sub").mkdir(parents=True)
    (app / "sub" / "f.txt").write_text("a")
    (app / "file-link").symlink_to("sub/f.txt")
    [(arc, src)] = [f for f in _context_of(app) if f[0].endswith("file-link")]
    tarball = write_context([(arc, src)], tmp_path / "ok.tar.gz")
    assert tarball is not None
    with tarfile.open(tarball) as tf:
        [m] = tf.getmembers()
        assert m.isfile() and m.size == 1

    (app / "broken").symlink_to("nowhere")
    with pytest.raises(ImageBuildError, match=r"broken is a symbolic link to nowhere, which does not exist.*ignore"):
        write_context(_context_of(app), tmp_path / "ctx.tar.gz")
    (app / "broken").unlink()
    (app / "folder-link").symlink_to("sub")
    with pytest.raises(ImageBuildError, match=r"folder-link is not a regular file \(a link to .*sub, which is a"):
        write_context(_context_of(app), tmp_path / "ctx2.tar.gz")  # listed as a link, not followed


def _context_of(folder: Path) -> list[tuple[str, Path]]:
    from flyte_remote_builder.spec import image_spec

    img = Image.from_base("r.example/base:1").with_source_folder(folder, "/app").clone(registry="r.example")
    return image_spec(img)[1]
