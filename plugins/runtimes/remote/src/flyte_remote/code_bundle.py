"""The code bundle: a gzip tarball of the folder holding the user's program.

Reproducible already in the simple ways (sorted members, zero mtimes/owners, fixed modes, a gzip
header without a timestamp), so the same files give the same bytes and the upload is skipped when
the control plane has that digest. Not yet: ``.gitignore``/``.flyteignore``, a size warning (see
/work/notes/remote.md: planned).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Folder names never bundled: virtualenvs, caches, VCS metadata.
EXCLUDED_DIRS = frozenset({
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", "node_modules", ".flyte", ".idea", ".vscode", ".eggs", "build", "dist",
})
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".so.tmp", ".swp")


@dataclass(frozen=True)
class Bundle:
    path: Path
    md5: str  # hex
    files: int
    size: int


def _is_venv(d: Path) -> bool:
    return (d / "pyvenv.cfg").is_file()


def bundle_files(root: Path) -> list[Path]:
    """Files of ``root`` that go into the bundle, sorted by their relative POSIX path."""
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames
                             if d not in EXCLUDED_DIRS and not d.endswith(".egg-info") and not _is_venv(here / d))
        for f in filenames:
            p = here / f
            if f.endswith(EXCLUDED_SUFFIXES) or p.is_symlink() or not p.is_file():
                continue
            out.append(p)
    out.sort(key=lambda p: p.relative_to(root).as_posix())
    return out


def build_bundle(root: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> Bundle:
    """Tar and gzip ``root``'s files into ``out_dir`` (a temporary folder by default)."""
    root = Path(root).resolve()
    files = bundle_files(root)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for p in files:
            info = tarfile.TarInfo(p.relative_to(root).as_posix())
            st = p.stat()
            info.size = st.st_size
            info.mode = 0o755 if st.st_mode & 0o100 else 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with p.open("rb") as f:
                tf.addfile(info, f)
    raw = buf.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=0, compresslevel=6) as z:
        z.write(raw)
    data = gz.getvalue()
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    folder = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="flyte-bundle-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{md5}.tar.gz"
    path.write_bytes(data)
    return Bundle(path=path, md5=md5, files=len(files), size=len(data))
