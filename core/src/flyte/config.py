"""Configuration: YAML files, ``FLYTE_<SECTION>_<KEY>`` environment variables, then explicit arguments.

Files, first found wins: ``$FLYTE_CONFIG`` (``flyte -c``; set but empty means no file at all), then
the official SDK's order (``./config.yaml``, ``./.flyte/config.yaml``, ``<git root>/.flyte/config.yaml``,
``$UCTL_CONFIG``, ``$FLYTECTL_CONFIG``, ``~/.union/config.yaml``, ``~/.flyte/config.yaml``; ``config.yml``
too).
CLI flags (:func:`set_overrides`) beat ``FLYTE_*`` variables, which beat the file.
Keys follow the official SDK (``admin.endpoint``, ``admin.insecure``, ``image.builder``,
``image.registry``, ``task.project``, ``task.domain``, ``storage.*``; the admin keys are listed in
:mod:`flyte.admin.settings`), plus ``local.runs_dir`` and ``local.cache_db`` for the local runtime.
Every key is readable flat::

    from flyte.config import get_config
    get_config().get("admin.endpoint")
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flyte.errors import ConfigError

SECTIONS = ("admin", "image", "task", "storage", "local", "platform", "sandbox")


class Config:
    """A flat view of the configuration: ``config.get("section.key")``."""

    def __init__(self, values: dict[str, Any], source: Path | None) -> None:
        self.values = values
        self.source = source

    def get(self, key: str, default: Any = None) -> Any:
        if key in _overrides:
            return _overrides[key]
        env = "FLYTE_" + key.replace(".", "_").replace("-", "_").upper()
        if env in os.environ:
            return _coerce(os.environ[env])
        return self.values.get(key, default)

    def section(self, name: str) -> dict[str, Any]:
        """One section as a nested dict (``storage: {s3: {endpoint: ...}}`` stays nested), env overrides applied."""
        prefix = name + "."
        out: dict[str, Any] = {}
        for k, v in self.values.items():
            if k.startswith(prefix):
                node = out
                *parents, leaf = k[len(prefix) :].split(".")
                for part in parents:
                    child = node.get(part)
                    if not isinstance(child, dict):
                        child = node[part] = {}
                    node = child
                node[leaf] = v
        env_prefix = f"FLYTE_{name.upper()}_"
        for k, v in os.environ.items():
            if k.startswith(env_prefix):
                out[k[len(env_prefix) :].lower()] = _coerce(v)
        return out

    def __repr__(self) -> str:
        return f"<Config from {self.source or 'defaults'}: {len(self.values)} keys>"


def _coerce(v: str) -> Any:
    low = v.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    return v


def flyte_home() -> Path:
    """``$FLYTE_HOME`` or ``~/.flyte``: where local runs and the local cache live."""
    return Path(os.environ.get("FLYTE_HOME") or Path.home() / ".flyte").expanduser()


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    if explicit:
        p = Path(explicit).expanduser()
        if not p.is_file():
            raise ConfigError(f"Config file {p} does not exist")
        return p
    env = os.environ.get("FLYTE_CONFIG")
    if env == "":
        return None  # set but empty: no config file at all (hermetic runs, tests), not "search as usual"
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise ConfigError(f"Config file {p} (from FLYTE_CONFIG) does not exist")
        return p
    return _discover()


def _discover() -> Path | None:
    """The official SDK's search order: ./config.yaml, ./.flyte/, <git root>/.flyte/, $UCTL_CONFIG,
    $FLYTECTL_CONFIG, ~/.union/, ~/.flyte/ (``config.yml`` accepted next to each ``config.yaml``).

    A bare ./config.yaml is taken only when it holds a flyte section (admin, task, image...): many
    projects keep an unrelated config.yaml at their root.
    """
    cwd = Path.cwd()
    for name in ("config.yaml", "config.yml"):
        if (cwd / name).is_file() and _looks_like_flyte_config(cwd / name):
            return cwd / name
    bases = [cwd / ".flyte"]
    root = next((d for d in (cwd, *cwd.parents) if (d / ".git").exists()), None)
    if root is not None and root != cwd:
        bases.append(root / ".flyte")
    found = _first(bases)
    if found is not None:
        return found
    for var in ("UCTL_CONFIG", "FLYTECTL_CONFIG"):
        if os.environ.get(var):
            p = Path(os.environ[var]).expanduser()
            if not p.is_file():
                raise ConfigError(f"Config file {p} (from {var}) does not exist")
            return p
    return _first([Path.home() / ".union", Path.home() / ".flyte"])


def _first(bases: list[Path]) -> Path | None:
    for base in bases:
        for name in ("config.yaml", "config.yml"):
            if (base / name).is_file():
                return base / name
    return None


def _looks_like_flyte_config(path: Path) -> bool:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and any(k in data for k in SECTIONS)


def _flatten(prefix: str, obj: Any, out: dict[str, Any]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = obj


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    f = find_config_file(path)
    if f is None:
        return Config({}, None)
    import yaml

    try:
        data = yaml.safe_load(f.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"Config file {f} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Config file {f} must hold a mapping of sections, got {type(data).__name__}")
    values: dict[str, Any] = {}
    _flatten("", data, values)
    return Config(values, f)


def auto(config_file: str | os.PathLike[str] | None = None) -> Config:
    """The official SDK's name for :func:`load_config`: the given file, else the usual search."""
    return load_config(config_file)


_config: Config | None = None


def get_config() -> Config:
    global _config
    if _config is None:
        _config = load_config()
    return _config


def set_config(cfg: Config | None) -> None:
    global _config
    _config = cfg


_overrides: dict[str, Any] = {}


def set_overrides(values: dict[str, Any]) -> None:
    """Values that beat the file and ``FLYTE_*`` variables (the CLI's ``--endpoint``, ``--project``...).

    Replaces the previous overrides; ``None`` values are dropped. Nothing reaches child processes.
    """
    _overrides.clear()
    _overrides.update({k: v for k, v in values.items() if v is not None})


def is_remote_configured(config: Config | None = None) -> bool:
    """True when an endpoint is configured (flag, config file, ``FLYTE_ADMIN_ENDPOINT`` or ``FLYTE_API_KEY``).

    Here rather than in :mod:`flyte.admin` (which re-exports it) so that ``flyte run`` can ask without
    importing the connection settings (a few ms of start-up on every local run).
    """
    cfg = config or get_config()
    return bool(cfg.get("admin.endpoint") or os.environ.get("FLYTE_API_KEY"))


def __getattr__(name: str) -> object:
    if name.startswith("__"):
        raise AttributeError(name)  # import machinery probes (__path__...), before flyte._compat exists
    from flyte._compat import missing

    raise missing(__name__, name)  # official SDK names we lack: a clear NotSupportedError
