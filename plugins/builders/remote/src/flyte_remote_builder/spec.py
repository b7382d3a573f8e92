"""A :class:`flyte.Image` as the remote builder sends it: a ``flyteidl2.imagebuilder.ImageSpec`` plus a
build-context tarball of exactly the files its layers copy.

Each layer that copies files gets the folder ``layers/<index>/`` in the context, and the spec names
those paths (relative to the context's root). Folders are filtered by the same ``.dockerignore`` rules
the image hash uses, so the control plane receives what was hashed and nothing else. The tarball is
deterministic (sorted names, zero times and owners, gzip without a timestamp), so an unchanged context
has the same bytes, and DataProxy's content-addressed upload skips it the second time.

Example::

    from flyte_remote_builder.spec import image_spec, write_context
    spec, files = image_spec(image)
    tarball = write_context(files, Path("/tmp/ctx.tar.gz"))   # None when no layer copies anything
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte.images.errors import ImageBuildError
from flyte.images.hashing import ignore_rules_for
from flyte.images.ignore import list_files
from flyte.images.layers import (
    AptPackages,
    Commands,
    CopyConfig,
    DockerIgnore,
    Env,
    Layer,
    PipOptions,
    PipPackages,
    PoetryProject,
    PythonWheels,
    Requirements,
    UVProject,
    UVScript,
    WorkDir,
)

if TYPE_CHECKING:
    from flyte import Image
    from flyteidl2.imagebuilder import definition_pb2

Files = list[tuple[str, Path]]
"""(name in the context, local file), one per file of the context."""


def _name(p: Path) -> str:
    return p.name if p.name not in ("", ".", "..") else p.resolve().name


def _add_file(files: Files, src: Path, arc: str) -> str:
    files.append((arc, src))
    return arc


def _add_tree(files: Files, image: Image, src: Path, arc: str) -> str:
    for rel, entry in list_files(src, ignore_rules_for(image, src)):
        files.append((f"{arc}/{rel}", Path(entry.path)))
    return arc


def _add(files: Files, image: Image, src: Path, arc: str) -> str:
    return _add_tree(files, image, src, arc) if src.is_dir() else _add_file(files, src, arc)


def _pip_options(layer: PipOptions) -> definition_pb2.PipOptions:
    from flyteidl2.imagebuilder import definition_pb2 as d

    return d.PipOptions(index_url=layer.index_url or "", extra_index_urls=list(layer.extra_index_urls or ()),
                        pre=layer.pre, extra_args=layer.extra_args or "")


def _secrets(layer: Layer) -> list[Any]:
    from flyteidl2.core import security_pb2

    out = []
    for s in layer.secrets:
        if isinstance(s, str):
            out.append(security_pb2.Secret(key=s))
        else:
            out.append(security_pb2.Secret(key=s.key, group=getattr(s, "group", None) or ""))
    return out


def _extra(args: str | None, flag: str) -> str:
    parts = (args or "").split()
    return " ".join([*parts, flag] if flag not in parts else parts)


def _layer(image: Image, i: int, layer: Layer, files: Files) -> definition_pb2.Layer | None:
    from flyteidl2.imagebuilder import definition_pb2 as d

    ctx = f"layers/{i}"
    if isinstance(layer, PipPackages):
        local = set(layer.local_packages())
        pkgs = []
        for p in layer.packages:
            path = Path(p.strip()).expanduser()
            pkgs.append(f"./{_add(files, image, path, f'{ctx}/{_name(path)}')}" if path in local else p)
        return d.Layer(pip_packages=d.PipPackages(packages=pkgs, options=_pip_options(layer),
                                                  secret_mounts=_secrets(layer)))
    if isinstance(layer, Requirements):
        arc = _add_file(files, layer.file, f"{ctx}/{layer.file.name}")
        return d.Layer(requirements=d.Requirements(file=arc, options=_pip_options(layer),
                                                   secret_mounts=_secrets(layer)))
    if isinstance(layer, UVProject):
        opts = _pip_options(layer)
        if layer.project_install_mode == "install_project":
            _add_tree(files, image, layer.pyproject.parent, ctx)
            uvlock = ""
            if layer.uvlock is not None:
                inside = layer.uvlock.resolve().parent == layer.pyproject.parent.resolve()
                uvlock = f"{ctx}/{layer.uvlock.name}" if inside else _add_file(files, layer.uvlock,
                                                                                 f"{ctx}.lock/{layer.uvlock.name}")
        else:
            opts.extra_args = _extra(opts.extra_args, "--no-install-project")
            _add_file(files, layer.pyproject, f"{ctx}/pyproject.toml")
            uvlock = _add_file(files, layer.uvlock, f"{ctx}/uv.lock") if layer.uvlock is not None else ""
        return d.Layer(uv_project=d.UVProject(pyproject=ctx, uvlock=uvlock, options=opts, source_dir=ctx,
                                              secret_mounts=_secrets(layer)))
    if isinstance(layer, UVScript):
        if not layer.dependencies:
            return None
        return d.Layer(pip_packages=d.PipPackages(packages=list(layer.dependencies), options=_pip_options(layer),
                                                  secret_mounts=_secrets(layer)))
    if isinstance(layer, PoetryProject):
        extra = layer.extra_args or ""
        if layer.project_install_mode == "install_project":
            _add_tree(files, image, layer.pyproject.parent, ctx)
            pyproject = f"{ctx}/pyproject.toml"
            lock = f"{ctx}/poetry.lock"
            if layer.poetry_lock.resolve().parent != layer.pyproject.parent.resolve():
                lock = _add_file(files, layer.poetry_lock, f"{ctx}.lock/poetry.lock")
        else:
            extra = _extra(extra, "--no-root")
            pyproject = _add_file(files, layer.pyproject, f"{ctx}/pyproject.toml")
            lock = _add_file(files, layer.poetry_lock, f"{ctx}/poetry.lock")
        return d.Layer(poetry_project=d.PoetryProject(pyproject=pyproject, poetry_lock=lock, extra_args=extra,
                                                      secret_mounts=_secrets(layer)))
    if isinstance(layer, PythonWheels):
        for src, _kind in layer.sources():
            _add_file(files, src, f"{ctx}/{src.name}")
        return d.Layer(python_wheels=d.PythonWheels(dir=ctx, package_name=layer.package_name,
                                                    options=_pip_options(layer), secret_mounts=_secrets(layer)))
    if isinstance(layer, AptPackages):
        return d.Layer(apt_packages=d.AptPackages(packages=list(layer.packages), secret_mounts=_secrets(layer)))
    if isinstance(layer, Commands):
        return d.Layer(commands=d.Commands(cmd=list(layer.commands), secret_mounts=_secrets(layer)))
    if isinstance(layer, Env):
        return d.Layer(env=d.Env(env_variables=dict(layer.env_vars)))
    if isinstance(layer, WorkDir):
        return d.Layer(workdir=d.WorkDir(workdir=layer.workdir))
    if isinstance(layer, CopyConfig):
        arc = _add(files, image, layer.src, f"{ctx}/{_name(layer.src)}")
        return d.Layer(copy_config=d.CopyConfig(src=arc, dst=layer.dst))
    if isinstance(layer, DockerIgnore):
        return None  # already applied: folders go into the context filtered
    raise ImageBuildError(f"{image.uri}: the remote builder cannot send layer {type(layer).__name__}", uri=image.uri)


def image_spec(image: Image) -> tuple[definition_pb2.ImageSpec, Files]:
    """The ``ImageSpec`` of ``image`` and the files of its build context (see the module docstring)."""
    from flyteidl2.imagebuilder import definition_pb2 as d

    if image.dockerfile is not None:
        raise ImageBuildError(
            f"{image.uri}: the remote builder builds layered images (Image.from_base/from_debian_base + with_*); "
            f"an image from a Dockerfile ({image.dockerfile}) has to be built with a local builder "
            "(--builder docker or podman)", uri=image.uri)
    files: Files = []
    layers = [pb for i, layer in enumerate(image.layers) if (pb := _layer(image, i, layer, files)) is not None]
    pv = image.python_version
    spec = d.ImageSpec(base_image=image.base_image or "", python_version=f"{pv[0]}.{pv[1]}" if pv else "",
                       layers=layers, platform=list(image.platform))
    return spec, files


def _info(arc: str, src: Path) -> tuple[tarfile.TarInfo, Path]:
    # the control plane unpacks plain files only: a link travels as the file it points to
    skip = "remove it or list it in .dockerignore, or build with a local builder (--builder docker or podman)"
    try:
        real = src.resolve(strict=True) if src.is_symlink() else src
        st = os.stat(real)
    except (OSError, RuntimeError):  # a link to nothing, a loop of links
        target = os.readlink(src) if src.is_symlink() else "?"
        raise ImageBuildError(f"{src} is a symbolic link to {target}, which does not exist; the remote builder "
                              f"sends the files links point to: {skip}") from None
    if not stat.S_ISREG(st.st_mode):
        what = f"a link to {real}, which" if real != src else "it"
        raise ImageBuildError(f"{src} is not a regular file ({what} is a folder, a socket or a device); the remote "
                              f"builder sends only files: {skip}")
    info = tarfile.TarInfo(arc)
    info.size = st.st_size
    info.mode = 0o755 if st.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH) else 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, real


def write_context(files: Files, dest: Path) -> Path | None:
    """Write ``files`` as a deterministic gzipped tarball at ``dest``; ``None`` (nothing written) when empty."""
    if not files:
        return None
    with open(dest, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arc, src in sorted(files, key=lambda f: f[0]):
            info, real = _info(arc, src)
            with open(real, "rb") as f:
                tar.addfile(info, f)
    return dest
