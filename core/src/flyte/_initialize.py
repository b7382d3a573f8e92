"""``flyte.init`` and ``flyte.init_from_config``: where runs go and how to reach a control plane."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyte.config import Config, load_config, set_config
from flyte.storage import configure as configure_storage


@dataclass
class InitConfig:
    org: str | None = None
    project: str | None = None
    domain: str | None = None
    root_dir: Path | None = None
    endpoint: str | None = None
    insecure: bool = False
    storage: dict[str, Any] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    mode: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_init: InitConfig | None = None


def get_init_config() -> InitConfig | None:
    return _init


def init(
    org: str | None = None,
    project: str | None = None,
    domain: str | None = None,
    root_dir: str | Path | None = None,
    endpoint: str | None = None,
    insecure: bool = False,
    storage: Any = None,
    images: dict[str, str] | None = None,
    **kwargs: Any,
) -> None:
    """Configure the SDK for this process. With no ``endpoint`` runs stay local.

    Example::

        flyte.init()                                          # local runs
        flyte.init(endpoint="dns:///flyte.example.com", project="ml", domain="development")
    """
    global _init
    if storage is not None:
        configure_storage(storage if isinstance(storage, dict) else dict(vars(storage)))
    _init = InitConfig(
        org=org,
        project=project,
        domain=domain,
        root_dir=Path(root_dir).expanduser() if root_dir else None,
        endpoint=endpoint,
        insecure=insecure,
        storage=storage if isinstance(storage, dict) else {},
        images=dict(images or {}),
        mode="remote" if endpoint else None,
        extra=kwargs,
    )


def init_from_config(path_or_config: str | os.PathLike[str] | Config | None = None, root_dir: str | Path | None = None,
                     **kwargs: Any) -> None:
    """Configure the SDK from a YAML config file (``.flyte/config.yaml`` by default) or a loaded
    :class:`flyte.config.Config` (what ``flyte.git.config_from_root()`` returns)."""
    cfg = path_or_config if isinstance(path_or_config, Config) else load_config(path_or_config)
    set_config(cfg)
    storage = cfg.section("storage") or None
    init(
        org=cfg.get("admin.org") or cfg.get("task.org"),
        project=cfg.get("task.project"),
        domain=cfg.get("task.domain"),
        root_dir=root_dir,
        endpoint=cfg.get("admin.endpoint"),
        insecure=bool(cfg.get("admin.insecure", False)),
        storage=storage,
        **kwargs,
    )


def current_project() -> str | None:
    return _init.project if _init else None


def current_domain() -> str | None:
    return _init.domain if _init else None
