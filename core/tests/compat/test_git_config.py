"""flyte.git.config_from_root() and flyte.config.auto(), which the official SDK's examples start with."""

from __future__ import annotations

import subprocess
from pathlib import Path

import flyte
import flyte.config
import flyte.git
import pytest


def test_config_from_the_git_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert flyte.git.config_from_root() is None  # not a repository
    assert not flyte.git.GitStatus.from_current_repo().is_valid
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert flyte.git.config_from_root() is None  # no .flyte/config.yaml
    (tmp_path / ".flyte").mkdir()
    (tmp_path / ".flyte" / "config.yaml").write_text("task:\n  project: from-git-root\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    cfg = flyte.git.config_from_root()
    assert cfg is not None and cfg.get("task.project") == "from-git-root"
    flyte.init_from_config(cfg)
    assert flyte.current_project() == "from-git-root"
    flyte.init_from_config(None)  # what the examples pass outside a repository: the usual search
    assert flyte.config.auto(tmp_path / ".flyte" / "config.yaml").get("task.project") == "from-git-root"
    status = flyte.git.GitStatus.from_current_repo()
    assert status.is_valid and status.repo_dir.resolve() == tmp_path.resolve()
