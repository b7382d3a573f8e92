"""Dockerfile generation and build-context staging, shared by every builder.

Builders only drive an engine: they call :func:`stage_context` to get a folder holding a
``Dockerfile`` and exactly the files that went into the image hash, then build that folder.

The Dockerfile uses only instructions every engine understands (no BuildKit ``RUN --mount``),
so the classic Docker builder, BuildKit and Buildah (podman) all build it the same way; layers
with ``secret_mounts=`` are therefore refused by :func:`check_buildable`.
Each layer that copies files gets its own folder ``layers/<index>/`` in the context.

Example::

    from flyte.images.dockerfile import render_dockerfile
    print(render_dockerfile(Image.from_base("alpine:3").with_commands(["echo hi"])))
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from flyte.images.errors import ImageBuildError
from flyte.images.hashing import ignore_rules_for
from flyte.images.ignore import IgnoreRules, list_files
from flyte.images.layers import (
    AptPackages,
    Commands,
    CopyConfig,
    DockerIgnore,
    Env,
    Layer,
    PipPackages,
    PoetryProject,
    PythonWheels,
    Requirements,
    UVProject,
    UVScript,
    WorkDir,
    _is_local_package,
    _local_name,
)

if TYPE_CHECKING:
    from flyte._image import Image

PIP = "python3 -m pip install --no-cache-dir"
UV_BOOTSTRAP = "python3 -m pip install --no-cache-dir uv"
POETRY_BOOTSTRAP = "python3 -m pip install --no-cache-dir poetry"
STAGE_DIR = "/tmp/flyte-build"  # where layers that only need files at build time put them


def _json(*parts: str) -> str:
    return json.dumps(list(parts))


def _q(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)


def env_value(value: str) -> str:
    """``value`` as a double-quoted Dockerfile word.

    Like the official SDK's images, ``$NAME`` and ``${NAME}`` are expanded by the engine as in any
    Dockerfile ``ENV`` (so ``{"PATH": "/opt/venv/bin:$PATH"}`` extends ``PATH``), and ``\\$`` is a
    literal dollar. Quotes and every other backslash are escaped, so they reach the container as
    written; tabs and non-ASCII are written as is (``json.dumps`` escapes such as ``\\u00e9`` would
    stay literal).
    """
    out = re.sub(r"\\(?!\$)", r"\\\\", value).replace('"', '\\"')
    return f'"{out}"'


def _layer_lines(index: int, layer: Layer) -> list[str]:
    ctx = f"layers/{index}"
    if isinstance(layer, PipPackages):
        local = layer.local_packages()
        if not local:
            return [f"RUN {PIP} {_q([*layer.pip_args(), *layer.packages])}"]
        target = f"{STAGE_DIR}/{index}"
        pkgs = [f"{target}/{_local_name(Path(p.strip()).expanduser())}" if _is_local_package(p.strip()) else p
                for p in layer.packages]
        return [f"COPY {_json(ctx + '/', target + '/')}", f"RUN {PIP} {_q([*layer.pip_args(), *pkgs])}"]
    if isinstance(layer, Requirements):
        target = f"{STAGE_DIR}/{index}/requirements.txt"
        return [
            f"COPY {_json(f'{ctx}/{layer.file.name}', target)}",
            f"RUN {PIP} {_q([*layer.pip_args(), '-r', target])}",
        ]
    if isinstance(layer, UVProject):
        target = f"{STAGE_DIR}/{index}"
        args = _q(layer.pip_args())
        uv = f"uv pip install --system {args}".rstrip()
        if layer.uvlock is not None:
            export = "uv export --frozen --no-hashes --no-emit-project --format requirements-txt -o /tmp/flyte-req.txt"
            install = f"{export} && {uv} -r /tmp/flyte-req.txt"
            if layer.project_install_mode == "install_project":
                install += f" && {uv} --no-deps ."
        else:
            install = f"{uv} ." if layer.project_install_mode == "install_project" else f"{uv} -r pyproject.toml"
        return [f"COPY {_json(ctx + '/', target + '/')}", f"RUN {UV_BOOTSTRAP} && cd {target} && {install}"]
    if isinstance(layer, UVScript):
        if not layer.dependencies:
            return []
        uv = f"uv pip install --system {_q([*layer.pip_args(), *layer.dependencies])}"
        return [f"RUN {UV_BOOTSTRAP} && {uv}"]
    if isinstance(layer, PoetryProject):
        target = f"{STAGE_DIR}/{index}"
        poetry_args = shlex.split(layer.extra_args or "")
        if layer.project_install_mode == "dependencies_only" and "--no-root" not in poetry_args:
            poetry_args.append("--no-root")
        return [
            f"COPY {_json(ctx + '/', target + '/')}",
            f"RUN {POETRY_BOOTSTRAP} && cd {target} && POETRY_VIRTUALENVS_CREATE=false poetry install "
            f"{_q(poetry_args)}".rstrip(),
        ]
    if isinstance(layer, PythonWheels):
        target = f"{STAGE_DIR}/{index}"
        return [
            f"COPY {_json(ctx + '/', target + '/')}",
            f"RUN {PIP} {_q([*layer.pip_args(), '--find-links', target, layer.package_name])}",
        ]
    if isinstance(layer, AptPackages):
        return [
            "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
            f"{_q(list(layer.packages))} && rm -rf /var/lib/apt/lists/*"
        ]
    if isinstance(layer, Commands):
        return [f"RUN {c}" for c in layer.commands]
    if isinstance(layer, Env):
        return [f"ENV {k}={env_value(v)}" for k, v in sorted(layer.env_vars)]
    if isinstance(layer, WorkDir):
        return [f"WORKDIR {layer.workdir}"]
    if isinstance(layer, CopyConfig):
        dst = "./" if layer.dst in (".", "./") else layer.dst
        if layer.path_type == 1:
            return [f"COPY {_json(ctx + '/', dst.rstrip('/') + '/' if dst != './' else dst)}"]
        return [f"COPY {_json(f'{ctx}/{layer.src.name}', dst)}"]
    if isinstance(layer, DockerIgnore):
        return []
    raise TypeError(f"no Dockerfile rendering for layer {type(layer).__name__}")


def render_dockerfile(image: Image) -> str:
    """The Dockerfile of a layered image (a ``from_dockerfile`` image uses its own file)."""
    if image.dockerfile is not None:
        return image.dockerfile.read_text()
    lines = [f"FROM {image.base_image}"]
    for i, layer in enumerate(image.layers):
        lines += _layer_lines(i, layer)
    return "\n".join(lines) + "\n"


def _copy_entry(src: os.DirEntry[str] | Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    path = src.path if isinstance(src, os.DirEntry) else str(src)
    if os.path.islink(path):
        os.symlink(os.readlink(path), dst)
    else:
        shutil.copy2(path, dst)


def _copy_tree(src: Path, dst: Path, rules: IgnoreRules) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for rel, entry in list_files(src, rules):
        _copy_entry(entry, dst / rel)


def check_buildable(image: Image) -> None:
    """Refuse what the engine-driving builders cannot build, naming the layer: today, secret mounts.

    ``secret_mounts=`` is accepted (and hashed) for code written for the official SDK, but rendering
    it needs BuildKit's ``RUN --mount=type=secret`` plus a session that hands the secret over, which
    neither the Docker Engine API the ``docker`` builder drives nor the ``podman`` builder provides.
    """
    for i, layer in enumerate(image.layers):
        if layer.secrets:
            keys = ", ".join(sorted({s if isinstance(s, str) else s.key for s in layer.secrets}))
            raise ImageBuildError(
                f"{image.uri}: layer {i} ({type(layer).__name__}) mounts secrets ({keys}); secret mounts need "
                "BuildKit (RUN --mount=type=secret with a build session), which the docker and podman "
                "builders of flyte-core do not drive. Remove secret_mounts= to build this image here, or build "
                "it with a BuildKit-based builder",
                uri=image.uri,
            )


def stage_context(image: Image, dest: Path) -> Path:
    """Fill ``dest`` with ``Dockerfile`` and the files the image copies; return the Dockerfile path.

    Only files that count in the image hash are staged, so what is built is what was hashed. For a
    :meth:`~flyte.Image.from_dockerfile` image the context is its folder (filtered by its
    ``.dockerignore``) and the Dockerfile is the user's own file in it: nothing is added that a
    ``COPY .`` could pick up.
    """
    check_buildable(image)
    dest.mkdir(parents=True, exist_ok=True)
    if image.dockerfile is not None:
        ctx = image.dockerfile.parent
        rules = IgnoreRules.from_file(ctx / ".dockerignore")
        _copy_tree(ctx, dest, rules)
        dockerfile = dest / image.dockerfile.name
        if not dockerfile.is_file():
            # The user's .dockerignore excludes the Dockerfile: the engine still needs it, so it goes in,
            # and into the staged .dockerignore, which Docker and Buildah both apply to COPY.
            shutil.copy2(image.dockerfile, dockerfile)
            ignore = dest / ".dockerignore"
            prev = ignore.read_text() if ignore.is_file() else ""
            ignore.write_text(prev + ("" if not prev or prev.endswith("\n") else "\n") + f"/{dockerfile.name}\n")
        return dockerfile
    for i, layer in enumerate(image.layers):
        for src, kind in layer.sources():
            target = dest / "layers" / str(i)
            if isinstance(layer, PipPackages) and kind == "dir":
                target = target / _local_name(src)
            if kind == "dir":
                _copy_tree(src, target, ignore_rules_for(image, src))
            else:
                _copy_entry(src, target / src.name)
    dockerfile = dest / "Dockerfile"
    dockerfile.write_text(render_dockerfile(image))
    return dockerfile
