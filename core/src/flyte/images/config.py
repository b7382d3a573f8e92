"""The ``image.*`` settings: which builder, which registry, registry credentials.

Read from the first of ``$FLYTE_CONFIG``, ``./.flyte/config.yaml``, ``~/.flyte/config.yaml``
that exists, then overridden by ``FLYTE_IMAGE_<KEY>`` environment variables (and by CLI flags,
which callers pass in). Keys::

    image:
      builder: docker            # FLYTE_IMAGE_BUILDER
      registry: ghcr.io/my-org   # FLYTE_IMAGE_REGISTRY
      registry_username: me      # FLYTE_IMAGE_REGISTRY_USERNAME
      registry_password: secret  # FLYTE_IMAGE_REGISTRY_PASSWORD
      registry_credentials:      # per registry host, when there are several
        127.0.0.1:5000: {username: me, password: secret}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flyte.errors import ConfigError


@dataclass(frozen=True)
class ImageConfig:
    builder: str | None = None
    registry: str | None = None
    registry_username: str | None = None
    registry_password: str | None = None
    registry_credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    source: Path | None = None


def config_files() -> list[Path]:
    explicit = os.environ.get("FLYTE_CONFIG")
    if explicit:
        return [Path(explicit)]
    return [Path.cwd() / ".flyte" / "config.yaml", Path.home() / ".flyte" / "config.yaml"]


def _read_section(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read flyte config {path}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"flyte config {path} must be a mapping at the top level")
    section = data.get("image") or {}
    if not isinstance(section, dict):
        raise ConfigError(f"flyte config {path}: 'image' must be a mapping")
    return section


def load_image_config() -> ImageConfig:
    """The ``image`` section of the config file, with ``FLYTE_IMAGE_*`` overrides applied."""
    section: dict[str, Any] = {}
    source = None
    for p in config_files():
        if p.is_file():
            section = _read_section(p)
            source = p
            break
    values: dict[str, Any] = {}
    for key in ("builder", "registry", "registry_username", "registry_password"):
        env = os.environ.get(f"FLYTE_IMAGE_{key.upper()}")
        v = env if env else section.get(key)
        if v is not None and not isinstance(v, str):
            raise ConfigError(f"flyte config {source}: image.{key} must be a string, got {v!r}")
        values[key] = v or None
    creds = section.get("registry_credentials") or {}
    if not isinstance(creds, dict):
        raise ConfigError(f"flyte config {source}: image.registry_credentials must map registry hosts to credentials")
    return ImageConfig(registry_credentials=creds, source=source, **values)
