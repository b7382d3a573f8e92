"""``flyte.git``: find the flyte config at the root of the git repository, as the official SDK does.

Example (the official SDK's examples start like this)::

    flyte.init_from_config(flyte.git.config_from_root())
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from flyte.config import Config, load_config


def _git(*args: str, cwd: str | Path | None = None) -> str | None:
    try:
        p = subprocess.run(["git", *args], capture_output=True, text=True, cwd=cwd, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return p.stdout.strip() if p.returncode == 0 else None


def config_from_root(path: Path | str = ".flyte/config.yaml") -> Config | None:
    """The config at ``path`` under the git repository's root (default ``.flyte/config.yaml``); ``None`` when
    this is not a git repository or the file is not there (then ``flyte.init_from_config(None)`` searches
    the usual places)."""
    top = _git("rev-parse", "--show-toplevel")
    if not top:
        return None
    f = Path(top) / path
    return load_config(f) if f.is_file() else None


@dataclass(frozen=True)
class GitStatus:
    """Where the code comes from: repository root, remote (https form), commit, and whether the tree is clean."""

    is_valid: bool = False
    is_tree_clean: bool = False
    remote_url: str = ""
    repo_dir: Path = Path()
    commit_sha: str = ""

    @classmethod
    def from_current_repo(cls) -> GitStatus:
        top = _git("rev-parse", "--show-toplevel")
        if not top:
            return cls()
        remote = _git("config", "--get", "remote.origin.url", cwd=top) or ""
        if remote.startswith("git@"):
            host, _, rest = remote[4:].partition(":")
            remote = f"https://{host}/{rest}"
        remote = remote.removesuffix(".git")
        return cls(
            is_valid=True,
            is_tree_clean=_git("status", "--porcelain", cwd=top) == "",
            remote_url=remote,
            repo_dir=Path(top),
            commit_sha=_git("rev-parse", "HEAD", cwd=top) or "",
        )


__all__ = ["GitStatus", "config_from_root"]
