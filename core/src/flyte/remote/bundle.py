"""Safe extraction of a code bundle (a gzip tarball) on the worker.

Stricter than tarfile's ``data`` filter: only regular files and folders are extracted; absolute
names, ``..`` components, links of any kind, devices and FIFOs are refused, naming the member.
File modes keep only the owner's execute bit (as 0755/0644); owners are never applied.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path, PurePosixPath


class UnsafeBundleError(ValueError):
    """A member of the bundle would land outside the destination or is not a plain file/folder."""


def _check(member: tarfile.TarInfo, dest: Path) -> Path:
    name = member.name
    p = PurePosixPath(name)
    if p.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeBundleError(f"code bundle member {name!r} has an absolute path; refusing to extract it")
    if ".." in p.parts:
        raise UnsafeBundleError(f"code bundle member {name!r} contains '..'; refusing to extract it")
    if member.issym() or member.islnk():
        raise UnsafeBundleError(f"code bundle member {name!r} is a link; bundles may hold only files and folders")
    if not (member.isreg() or member.isdir()):
        raise UnsafeBundleError(
            f"code bundle member {name!r} is a device, FIFO or other special file; refusing to extract it"
        )
    target = (dest / p).resolve()
    if target != dest and dest not in target.parents:
        raise UnsafeBundleError(f"code bundle member {name!r} would be extracted outside {dest}")
    return target


def safe_extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> list[str]:
    """Extract ``archive`` into ``dest`` after checking every member first; returns the files written."""
    root = Path(dest).resolve()
    root.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()
        targets = [(_check(m, root), m) for m in members]  # nothing is written if any member is refused
        for target, m in targets:
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(m)
            assert src is not None
            with src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            os.chmod(target, 0o755 if m.mode & 0o100 else 0o644)
            written.append(str(target))
    return written
