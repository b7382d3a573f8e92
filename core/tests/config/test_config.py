"""Configuration files, environment overrides, and flyte.init / init_from_config."""

from __future__ import annotations

from pathlib import Path

import flyte
import pytest
from flyte.config import find_config_file, load_config
from flyte.errors import ConfigError


def write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_official_keys_flattened_and_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_file = write(
        tmp_path / "c.yaml",
        "admin:\n  endpoint: dns:///flyte.example.com\n  insecure: false\n"
        "image:\n  builder: podman\n  registry: ghcr.io/me\n"
        "task:\n  project: ml\n  domain: development\n",
    )
    cfg = load_config(cfg_file)
    assert cfg.get("admin.endpoint") == "dns:///flyte.example.com"
    assert cfg.get("image.registry") == "ghcr.io/me"
    assert cfg.get("admin.insecure") is False
    monkeypatch.setenv("FLYTE_ADMIN_INSECURE", "true")
    monkeypatch.setenv("FLYTE_IMAGE_BUILDER", "docker")
    assert cfg.get("admin.insecure") is True
    assert cfg.get("image.builder") == "docker"
    assert cfg.section("image") == {"builder": "docker", "registry": "ghcr.io/me"}


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLYTE_CONFIG", raising=False)
    monkeypatch.delenv("FLYTECTL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert find_config_file() is None
    home_cfg = write(tmp_path / "home" / ".flyte" / "config.yaml", "task: {project: p}\n")
    assert find_config_file() == home_cfg
    local_cfg = write(tmp_path / ".flyte" / "config.yaml", "task: {project: q}\n")
    assert find_config_file() == local_cfg
    explicit = write(tmp_path / "x.yaml", "{}\n")
    monkeypatch.setenv("FLYTE_CONFIG", str(explicit))
    assert find_config_file() == explicit


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = write(tmp_path / "bad.yaml", "admin: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    wrong = write(tmp_path / "list.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(wrong)


def test_init_from_config_without_endpoint_stays_local(tmp_path: Path) -> None:
    from flyte._initialize import get_init_config
    from flyte._run import default_mode

    cfg = write(tmp_path / "c.yaml", "task:\n  project: ml\n  domain: dev\n")
    flyte.init_from_config(cfg)
    try:
        assert flyte.current_project() == "ml" and flyte.current_domain() == "dev"
        assert default_mode() == "local"
        flyte.init(endpoint="dns:///x")
        assert default_mode() == "remote"
        assert get_init_config().endpoint == "dns:///x"  # type: ignore[union-attr]
    finally:
        flyte.init()


def test_local_runs_dir_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flyte._builtin.local.records import runs_dir
    from flyte.config import Config, set_config

    set_config(Config({"local.runs_dir": str(tmp_path / "elsewhere")}, None))
    assert runs_dir() == tmp_path / "elsewhere"
    monkeypatch.setenv("FLYTE_LOCAL_RUNS_DIR", str(tmp_path / "env"))
    assert runs_dir() == tmp_path / "env"


def test_empty_flyte_config_means_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # every place the search would look holds a config: an empty FLYTE_CONFIG still finds none
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write(tmp_path / "home" / ".flyte" / "config.yaml", "task: {project: from-home}\n")
    write(tmp_path / ".flyte" / "config.yaml", "task: {project: from-cwd}\n")
    write(tmp_path / "other.yaml", "task: {project: from-flytectl}\n")
    monkeypatch.setenv("FLYTECTL_CONFIG", str(tmp_path / "other.yaml"))
    monkeypatch.setenv("FLYTE_CONFIG", "")
    assert find_config_file() is None
    assert load_config().get("task.project") is None
    monkeypatch.delenv("FLYTE_CONFIG")
    assert find_config_file() == tmp_path / ".flyte" / "config.yaml"  # unset: the usual search
