"""Content hashes of images: the canonical spec plus the bytes of every file a layer copies.

The hash is the same on every machine and every run: layers describe themselves without
absolute paths, copied folders are listed in sorted order by relative POSIX path, and only the
path, the executable bit and the content of each file count (never mtimes, owners or inode
numbers). A folder is filtered by the image's ``.dockerignore`` (the last
:meth:`~flyte.Image.with_dockerignore`), else by its own ``.dockerignore``, plus the defaults in
:data:`flyte.images.ignore.DEFAULT_PATTERNS`.

Example::

    from flyte.images.hashing import image_digest
    digest = image_digest(image)          # 64 hex characters
    assert image.tag == digest[:TAG_LENGTH]
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte.images.ignore import IgnoreRules, list_files
from flyte.images.layers import DockerIgnore, Layer

if TYPE_CHECKING:
    from flyte._image import Image

SPEC_VERSION = 3
"""Bumped whenever the Dockerfile generated for the same spec changes, so that old tags are not reused."""

TAG_LENGTH = 32
_SMALL_FILE = 1 << 20


def file_digest(path: Path | str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _entry_record(rel: str, entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return f"{rel}\0link\0{os.readlink(entry.path)}\n"
    st = entry.stat()
    mode = "x" if st.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH) else "-"
    with open(entry.path, "rb") as f:
        if st.st_size <= _SMALL_FILE:  # one read beats file_digest's buffer loop for small files
            h = hashlib.sha256(f.read()).hexdigest()
        else:
            h = hashlib.file_digest(f, "sha256").hexdigest()
    return f"{rel}\0{mode}\0{h}\n"


def tree_digest(root: Path, rules: IgnoreRules) -> str:
    """Hash of every kept file under ``root``: relative path, executable bit, content."""
    h = hashlib.sha256()
    for rel, entry in list_files(root, rules):
        h.update(_entry_record(rel, entry).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def single_file_digest(path: Path) -> str:
    st = path.stat()
    mode = "x" if st.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH) else "-"
    return f"{mode}{file_digest(path)}"


def ignore_rules_for(image: Image, folder: Path) -> IgnoreRules:
    """The rules that filter ``folder`` when ``image`` copies it."""
    chosen: Path | None = None
    for layer in image.layers:
        if isinstance(layer, DockerIgnore):
            chosen = layer.path
    if chosen is None:
        chosen = folder / ".dockerignore"
    return IgnoreRules.from_file(chosen)


def _source_digest(image: Image, src: Path, kind: str) -> str:
    if kind == "dir":
        return tree_digest(src, ignore_rules_for(image, src))
    return single_file_digest(src)


def canonical_layer(image: Image, layer: Layer) -> dict[str, Any]:
    out = layer.canonical()
    srcs = layer.sources()
    if srcs:
        out["content"] = [_source_digest(image, p, kind) for p, kind in srcs]
    return out


def canonical_spec(image: Image) -> dict[str, Any]:
    """What the hash is taken over: JSON-able, free of absolute paths and timestamps."""
    spec: dict[str, Any] = {"spec_version": SPEC_VERSION, "platform": list(image.platform)}
    if image.base_image is not None:
        spec["base_image"] = image.base_image
    if image.dockerfile is not None:
        ctx = image.dockerfile.parent
        spec["dockerfile"] = {
            "content": file_digest(image.dockerfile),
            "context": tree_digest(ctx, IgnoreRules.from_file(ctx / ".dockerignore")),
        }
    if image.python_version is not None:
        spec["python_version"] = list(image.python_version)
    spec["layers"] = [canonical_layer(image, layer) for layer in image.layers]
    return spec


def image_digest(image: Image) -> str:
    data = json.dumps(canonical_spec(image), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(data.encode("ascii")).hexdigest()


def image_tag(image: Image) -> str:
    return image_digest(image)[:TAG_LENGTH]
