"""Image.from_uv_script (the PEP 723 header decides), with_poetry_project and PythonWheels: hashed and staged
like the other layers; the same definitions run on the official SDK."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flyte._image import Image, ImageSpecError, PythonWheels
from flyte.images.dockerfile import render_dockerfile, stage_context

HEADER = """\
#!/usr/bin/env -S uv run --script
# /// script
# requires-python = ">=3.10"
# dependencies = [
#   "httpx>=0.27",
#   "rich",
# ]
# ///
"""


def _script(tmp_path: Path, header: str = HEADER, body: str = "print('hi')\n") -> Path:
    p = tmp_path / "job.py"
    p.write_text(header + body)
    return p


def test_uv_script_installs_what_the_header_declares(tmp_path: Path) -> None:
    img = Image.from_uv_script(_script(tmp_path), name="job", registry="ghcr.io/acme")
    assert img.uri.startswith("ghcr.io/acme/job:")
    df = render_dockerfile(img)
    assert "uv pip install --system httpx>=0.27 rich" in df.replace("'", "")
    assert "flyte-core" not in df  # as in the official SDK, flyte comes from the header when wanted
    assert img.python_version == sys.version_info[:2]


def test_only_the_header_is_hashed(tmp_path: Path) -> None:
    a = Image.from_uv_script(_script(tmp_path), name="job")
    b = Image.from_uv_script(_script(tmp_path, body="print('changed code')\n"), name="job")
    assert a.tag == b.tag
    c = Image.from_uv_script(_script(tmp_path, header=HEADER.replace('"rich",', '"rich>=13",')), name="job")
    assert c.tag != a.tag
    d = Image.from_uv_script(_script(tmp_path), name="job", index_url="https://pypi.example/simple")
    assert d.tag != a.tag and "--index-url https://pypi.example/simple" in render_dockerfile(d)


def test_requires_python_raises_the_default_version(tmp_path: Path) -> None:
    newer = HEADER.replace(">=3.10", ">=3.99")
    assert Image.from_uv_script(_script(tmp_path, header=newer), name="j").python_version == (3, 99)
    assert Image.from_uv_script(_script(tmp_path), name="j", python_version=(3, 12)).python_version == (3, 12)


@pytest.mark.parametrize(("header", "message"), [
    ("", "has no PEP 723 header"),
    (HEADER + HEADER.split("\n", 1)[1], "has 2 '# /// script' blocks"),
    ("# /// script\n# dependencies = [\n# ///\n", "not valid TOML"),
    ('# /// script\n# dependencies = ["-e ."]\n# ///\n', "not a valid requirement"),
    ('# /// script\n# dependencies = "httpx"\n# ///\n', "must be a list of strings"),
])
def test_bad_headers_are_named(tmp_path: Path, header: str, message: str) -> None:
    with pytest.raises(ImageSpecError, match=message):
        Image.from_uv_script(_script(tmp_path, header=header), name="j")
    with pytest.raises(ImageSpecError, match="does not exist"):
        Image.from_uv_script(tmp_path / "missing.py", name="j")


def _poetry(root: Path, lock: str = "# lock v1\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[tool.poetry]\nname = 'app'\nversion = '0.1.0'\n")
    (root / "poetry.lock").write_text(lock)
    (root / "app").mkdir(exist_ok=True)
    (root / "app" / "__init__.py").write_text("X = 1\n")
    return root / "pyproject.toml"


def test_poetry_project_dependencies_only(tmp_path: Path) -> None:
    pyproject = _poetry(tmp_path / "p")
    img = Image.from_base("python:3.12-slim").with_poetry_project(pyproject, extra_args="--only main")
    df = render_dockerfile(img)
    assert "pip install --no-cache-dir poetry" in df
    assert "POETRY_VIRTUALENVS_CREATE=false poetry install --only main --no-root" in df
    staged = tmp_path / "ctx"
    stage_context(img, staged)
    assert sorted(p.name for p in (staged / "layers" / "0").iterdir()) == ["poetry.lock", "pyproject.toml"]
    tag = img.tag
    (tmp_path / "p" / "app" / "__init__.py").write_text("X = 2\n")
    assert Image.from_base("python:3.12-slim").with_poetry_project(pyproject).tag == \
        Image.from_base("python:3.12-slim").with_poetry_project(pyproject, extra_args=None).tag
    _poetry(tmp_path / "p", lock="# lock v2\n")
    assert Image.from_base("python:3.12-slim").with_poetry_project(pyproject, extra_args="--only main").tag != tag


def test_poetry_install_project_copies_the_folder(tmp_path: Path) -> None:
    pyproject = _poetry(tmp_path / "p")
    img = Image.from_base("python:3.12-slim").with_poetry_project(pyproject, project_install_mode="install_project")
    assert "--no-root" not in render_dockerfile(img)
    stage_context(img, tmp_path / "ctx")
    assert (tmp_path / "ctx" / "layers" / "0" / "app" / "__init__.py").is_file()
    before = img.tag
    (tmp_path / "p" / "app" / "__init__.py").write_text("X = 2\n")
    assert Image.from_base("python:3.12-slim").with_poetry_project(
        pyproject, project_install_mode="install_project").tag != before


def test_poetry_errors(tmp_path: Path) -> None:
    pyproject = _poetry(tmp_path / "p")
    (tmp_path / "p" / "poetry.lock").unlink()
    with pytest.raises(ImageSpecError, match="with_poetry_project: poetry_lock .* does not exist"):
        Image.from_base("python:3.12-slim").with_poetry_project(pyproject)
    with pytest.raises(ImageSpecError, match="project_install_mode"):
        Image.from_base("python:3.12-slim").with_poetry_project(
            _poetry(tmp_path / "q"), project_install_mode="all")  # type: ignore[arg-type]


def test_python_wheels_layer(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "mypkg-1.0-py3-none-any.whl").write_bytes(b"wheel 1")
    (dist / "notes.txt").write_text("not copied")
    img = Image.from_base("python:3.12-slim").clone(addl_layer=PythonWheels(wheel_dir=dist, package_name="mypkg"))
    assert "--find-links /tmp/flyte-build/0 mypkg" in render_dockerfile(img)
    stage_context(img, tmp_path / "ctx")
    assert [p.name for p in (tmp_path / "ctx" / "layers" / "0").iterdir()] == ["mypkg-1.0-py3-none-any.whl"]
    tag = img.tag
    (dist / "mypkg-1.0-py3-none-any.whl").write_bytes(b"wheel 2")
    again = Image.from_base("python:3.12-slim").clone(addl_layer=PythonWheels(wheel_dir=dist, package_name="mypkg"))
    assert again.tag != tag
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageSpecError, match="holds no .whl files"):
        PythonWheels(wheel_dir=empty, package_name="mypkg")


OFFICIAL_STYLE = textwrap.dedent("""
    from pathlib import Path
    import flyte
    from flyte._image import PythonWheels

    HERE = Path(__file__).parent
    a = flyte.Image.from_uv_script(HERE / "job.py", name="job", registry="ghcr.io/acme", python_version=(3, 12),
                                   pre=True, extra_args="--no-cache", platform=("linux/amd64",))
    b = flyte.Image.from_debian_base(name="p").with_poetry_project(HERE / "p" / "pyproject.toml",
                                                                   extra_args="--only main")
    c = flyte.Image.from_debian_base(name="w").clone(addl_layer=PythonWheels(wheel_dir=HERE / "dist",
                                                                             package_name="mypkg"), extendable=True)
    print("OK")
""")


def _official_project(root: Path) -> Path:
    _script(root)
    _poetry(root / "p")
    (root / "dist").mkdir()
    (root / "dist" / "mypkg-1.0-py3-none-any.whl").write_bytes(b"w")
    (root / "images.py").write_text(OFFICIAL_STYLE)
    return root / "images.py"


@pytest.mark.parametrize("which", ["ours", "official"])
def test_the_same_definitions_run_on_both_sdks(tmp_path: Path, which: str) -> None:
    python = sys.executable if which == "ours" else os.environ.get("FLYTE_OFFICIAL_PYTHON", "")
    if not python:
        pytest.skip("FLYTE_OFFICIAL_PYTHON not set (python3 dev.py test sets it)")
    script = _official_project(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE_", "PYTHONPATH"))}
    env["HOME"] = str(tmp_path)
    r = subprocess.run([python, str(script)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "OK"
