"""Registry credentials: from the flyte config, else the Docker config file and its helpers.

Lookup order for a registry host: ``image.registry_credentials[host]``; ``image.registry_username``
and ``image.registry_password`` when ``host`` is the configured ``image.registry``; then
``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``): ``credHelpers[host]``, the
``auths`` entry, ``credsStore``. Credential helpers run with a timeout.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from flyte.images.config import load_image_config
from flyte.images.errors import RegistryAuthError

DOCKER_HUB = "docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
HELPER_TIMEOUT = 15.0


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    source: str

    def __repr__(self) -> str:  # never print the password
        return f"Credentials(username={self.username!r}, source={self.source!r})"


def split_reference(uri: str) -> tuple[str, str, str]:
    """``127.0.0.1:5000/a/b:tag`` -> (``127.0.0.1:5000``, ``a/b``, ``tag``); Docker Hub names get
    ``docker.io`` and ``library/``."""
    name, ref = uri, "latest"
    if "@" in name:
        name, ref = name.split("@", 1)
    else:
        last = name.rsplit("/", 1)[-1]
        if ":" in last:
            name, ref = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, repo = first, rest
    else:
        host, repo = DOCKER_HUB, name
    if host in _HUB_ALIASES:
        host = DOCKER_HUB
        if "/" not in repo:
            repo = f"library/{repo}"
    return host, repo, ref


def _host_of(key: str) -> str:
    key = key.split("://", 1)[-1].split("/", 1)[0]
    return DOCKER_HUB if key in _HUB_ALIASES else key


def docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _run_helper(helper: str, host: str) -> Credentials | None:
    exe = f"docker-credential-{helper}"
    server = "https://index.docker.io/v1/" if host == DOCKER_HUB else host
    try:
        proc = subprocess.run(
            [exe, "get"], input=server, capture_output=True, text=True, timeout=HELPER_TIMEOUT, check=False
        )
    except FileNotFoundError as e:
        raise RegistryAuthError(
            f"credential helper {exe} (named in {docker_config_path()} for {host}) is not installed",
            registry=host,
        ) from e
    except subprocess.TimeoutExpired as e:
        raise RegistryAuthError(
            f"credential helper {exe} did not answer within {HELPER_TIMEOUT:.0f}s for {host}", registry=host
        ) from e
    if proc.returncode != 0:
        if "credentials not found" in (proc.stdout + proc.stderr).lower():
            return None
        raise RegistryAuthError(
            f"credential helper {exe} failed for {host}: {(proc.stderr or proc.stdout).strip()[:300]}", registry=host
        )
    try:
        data = json.loads(proc.stdout)
        return Credentials(data["Username"], data["Secret"], f"{exe}")
    except (ValueError, KeyError) as e:
        raise RegistryAuthError(f"credential helper {exe} gave an unreadable answer for {host}", registry=host) from e


def from_docker_config(host: str) -> Credentials | None:
    path = docker_config_path()
    if not path.is_file():
        return None
    try:
        cfg = json.loads(path.read_text() or "{}")
    except (OSError, ValueError) as e:
        raise RegistryAuthError(f"cannot read Docker config {path}: {e}", registry=host) from e
    helpers = {_host_of(k): v for k, v in (cfg.get("credHelpers") or {}).items()}
    if host in helpers:
        return _run_helper(helpers[host], host)
    for key, entry in (cfg.get("auths") or {}).items():
        if _host_of(key) != host or not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            try:
                user, _, pw = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError) as e:
                raise RegistryAuthError(f"the 'auth' entry for {host} in {path} is not base64 user:password",
                                        registry=host) from e
            return Credentials(user, pw, str(path))
        if entry.get("username") and entry.get("password"):
            return Credentials(entry["username"], entry["password"], str(path))
    if cfg.get("credsStore"):
        return _run_helper(cfg["credsStore"], host)
    return None


def credentials_for(host: str) -> Credentials | None:
    """Credentials for a registry host, or ``None`` (anonymous)."""
    cfg = load_image_config()
    for key, entry in cfg.registry_credentials.items():
        if _host_of(key) == host and isinstance(entry, dict) and entry.get("username"):
            return Credentials(str(entry["username"]), str(entry.get("password", "")), f"{cfg.source}")
    if cfg.registry_username and cfg.registry and _host_of(cfg.registry) == host:
        return Credentials(cfg.registry_username, cfg.registry_password or "", "flyte config image.registry_username")
    return from_docker_config(host)
