"""Content-hashed tags: stable across machines and runs, sensitive to every copied byte."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flyte._image import Image
from flyte.images.hashing import canonical_spec


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


FILES = {"app/main.py": "print(1)\n", "app/lib/util.py": "X = 2\n", "app/data/a.csv": "1,2\n"}


def _img(src: Path) -> Image:
    return Image.from_base("alpine:3").with_source_folder(src).with_commands(["true"])


def test_same_content_elsewhere_same_tag(tmp_path: Path) -> None:
    a = _tree(tmp_path / "m1", FILES) / "app"
    b_root = tmp_path / "other" / "m2"
    b = _tree(b_root, dict(reversed(list(FILES.items())))) / "app"  # created in another order
    os.utime(b / "main.py", (0, 0))
    assert _img(a).tag == _img(b).tag
    spec = str(canonical_spec(_img(a)))
    assert str(tmp_path) not in spec


def test_tag_is_stable_across_processes(tmp_path: Path) -> None:
    src = _tree(tmp_path, FILES) / "app"
    code = (
        "import sys; from pathlib import Path; from flyte._image import Image; "
        "print(Image.from_base('alpine:3').with_source_folder(Path(sys.argv[1])).with_commands(['true']).tag)"
    )
    tags = {
        subprocess.run(
            [sys.executable, "-c", code, str(src)], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert tags == {_img(src).tag}


def test_content_and_mode_change_the_tag(tmp_path: Path) -> None:
    src = _tree(tmp_path, FILES) / "app"
    before = _img(src).tag
    time.sleep(0.01)
    (src / "main.py").touch()
    assert _img(src).tag == before  # mtime alone does not count
    (src / "lib" / "util.py").write_text("X = 3\n")
    changed = _img(src).tag
    assert changed != before
    (src / "main.py").chmod(0o755)
    assert _img(src).tag != changed
    (src / "new.txt").write_text("")
    assert len({before, changed, _img(src).tag}) == 3


def test_spec_changes_the_tag(tmp_path: Path) -> None:
    base = Image.from_base("alpine:3")
    tags = {
        base.with_commands(["true"]).tag,
        base.with_commands(["false"]).tag,
        base.with_commands(["true"]).with_env_vars({"A": "1"}).tag,
        Image.from_base("alpine:3.20").with_commands(["true"]).tag,
        base.with_commands(["true"]).clone(platform="linux/arm64").tag,
    }
    assert len(tags) == 5
    # registry and name are where the image goes, not what it is
    img = base.with_commands(["true"])
    assert img.clone(registry="r.io/x", name="other").tag == img.tag


def test_dockerignore_respected(tmp_path: Path) -> None:
    src = _tree(tmp_path, {**FILES, "app/.dockerignore": "data\n*.log\n!keep.log\n"}) / "app"
    (src / "x.log").write_text("1")
    (src / "keep.log").write_text("1")
    before = _img(src).tag
    (src / "data" / "a.csv").write_text("changed")
    (src / "x.log").write_text("2")
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    assert _img(src).tag == before
    (src / "keep.log").write_text("2")
    assert _img(src).tag != before


def test_image_dockerignore_layer_wins(tmp_path: Path) -> None:
    src = _tree(tmp_path, FILES) / "app"
    ign = tmp_path / "custom.ignore"
    ign.write_text("lib/\n")
    img = Image.from_base("alpine:3").with_dockerignore(ign).with_source_folder(src)
    before = img.tag
    (src / "lib" / "util.py").write_text("changed")
    assert img.tag == before
    ign.write_text("")
    assert img.tag != before


def test_requirements_and_dockerfile_content(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("numpy\n")
    img = Image.from_base("python:3.12").with_requirements(req)
    t = img.tag
    req.write_text("numpy==2\n")
    assert img.tag != t
    ctx = _tree(tmp_path / "ctx", {"Dockerfile": "FROM alpine\nCOPY . /x\n", "f.txt": "1"})
    df = Image.from_dockerfile(ctx / "Dockerfile", name="d")
    t = df.tag
    (ctx / "f.txt").write_text("2")
    assert df.tag != t


def test_symlinks_hashed_as_links(tmp_path: Path) -> None:
    src = _tree(tmp_path, FILES) / "app"
    (src / "link").symlink_to("main.py")
    t = _img(src).tag
    (src / "link").unlink()
    (src / "link").symlink_to("lib/util.py")
    assert _img(src).tag != t


def test_copy_of_tree_hashes_equal(tmp_path: Path) -> None:
    src = _tree(tmp_path / "a", FILES) / "app"
    dst = tmp_path / "b" / "app"
    shutil.copytree(src, dst)
    assert _img(src).tag == _img(dst).tag


@pytest.mark.parametrize("n", [200])
def test_hashing_is_fast_enough(tmp_path: Path, n: int) -> None:
    src = tmp_path / "many"
    for i in range(n):
        d = src / f"d{i % 10}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.py").write_text(f"x = {i}\n")
    t0 = time.perf_counter()
    assert _img(src).tag
    assert time.perf_counter() - t0 < 1.0


def test_order_without_meaning_does_not_change_the_tag() -> None:
    base = Image.from_base("alpine:3")
    assert base.with_env_vars({"A": "1", "B": "2"}).tag == base.with_env_vars({"B": "2", "A": "1"}).tag
    assert base.with_apt_packages("git", "curl").tag == base.with_apt_packages("curl", "git").tag
    # ...but values, and the order of steps, do
    assert base.with_env_vars({"A": "1", "B": "2"}).tag != base.with_env_vars({"A": "2", "B": "1"}).tag
    assert base.with_env_vars({"A": "1"}).with_env_vars({"A": "2"}).tag != (
        base.with_env_vars({"A": "2"}).with_env_vars({"A": "1"}).tag
    )


def test_secret_mounts_count_but_only_by_name() -> None:
    from flyte._secret import Secret

    base = Image.from_base("alpine:3")
    plain = base.with_commands(["true"]).tag
    by_key = base.with_commands(["true"], secret_mounts="TOKEN").tag
    assert by_key != plain
    assert base.with_commands(["true"], secret_mounts=[Secret(key="TOKEN")]).tag == by_key
    assert base.with_commands(["true"], secret_mounts=[Secret(key="TOKEN", as_env_var="T")]).tag != by_key


def test_local_wheel_counts_by_name_and_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for d in ("m1", "m2"):
        (tmp_path / d / "dist").mkdir(parents=True)
        (tmp_path / d / "dist" / "pkg-1.0-py3-none-any.whl").write_bytes(b"wheel v1")
    monkeypatch.chdir(tmp_path / "m1")
    rel = Image.from_base("python:3.12").with_pip_packages("./dist/pkg-1.0-py3-none-any.whl")
    absolute = Image.from_base("python:3.12").with_pip_packages(
        str(tmp_path / "m2" / "dist" / "pkg-1.0-py3-none-any.whl")
    )
    assert rel.tag == absolute.tag  # same name and bytes elsewhere: same image
    assert str(tmp_path) not in str(canonical_spec(absolute))
    before = rel.tag
    (tmp_path / "m1" / "dist" / "pkg-1.0-py3-none-any.whl").write_bytes(b"wheel v2")
    assert rel.tag != before
