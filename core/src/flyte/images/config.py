"""The ``image.*`` settings: which builder, which registry, registry credentials.

Read through :func:`flyte.config.get_config`: the first of ``$FLYTE_CONFIG``, ``./.flyte/config.yaml``
(or ``.yml``), ``~/.flyte/config.yaml`` (or ``.yml``) that exists, or the file given to
``flyte.init_from_config`` / ``flyte -c``; each key overridden by its ``FLYTE_IMAGE_<KEY>``
environment variable (and by CLI flags, which callers pass in). Keys::

    image:
      builder: docker            # FLYTE_IMAGE_BUILDER; `local` (the official SDK's value) = docker, else podman
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

from flyte.config import get_config
from flyte.errors import ConfigError


@dataclass(frozen=True)
class ImageConfig:
    builder: str | None = None
    registry: str | None = None
    registry_username: str | None = None
    registry_password: str | None = None
    registry_credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    source: Path | None = None


def load_image_config() -> ImageConfig:
    """The ``image`` section of the flyte config, with ``FLYTE_IMAGE_*`` overrides applied."""
    cfg = get_config()
    source = cfg.source
    values: dict[str, Any] = {}
    for key in ("builder", "registry", "registry_username", "registry_password"):
        env = os.environ.get(f"FLYTE_IMAGE_{key.upper()}")  # read as is: a password may well be "yes"
        v = env if env else cfg.values.get(f"image.{key}")
        if v is not None and not isinstance(v, str):
            raise ConfigError(f"flyte config {source}: image.{key} must be a string, got {v!r}")
        values[key] = v or None
    # the config is flat (section.key), and hosts have dots: the field is what follows the last one
    creds: dict[str, dict[str, str]] = {}
    prefix = "image.registry_credentials."
    for k, v in cfg.values.items():
        if not k.startswith(prefix):
            if k == "image.registry_credentials" and v not in (None, {}):
                raise ConfigError(
                    f"flyte config {source}: image.registry_credentials must map registry hosts to credentials"
                )
            continue
        host, _, fld = k[len(prefix):].rpartition(".")
        if not host or fld not in ("username", "password"):
            raise ConfigError(
                f"flyte config {source}: image.registry_credentials must map registry hosts to "
                f"{{username, password}}, got key {k[len(prefix):]!r}"
            )
        creds.setdefault(host, {})[fld] = str(v)
    return ImageConfig(registry_credentials=creds, source=source, **values)
