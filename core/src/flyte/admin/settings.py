"""Connection settings for a control plane, read from the config file, ``FLYTE_*`` variables and CLI flags.

Keys are the official SDK's (``admin.endpoint``, ``admin.insecure``, ``admin.insecureSkipVerify``,
``admin.caCertFilePath``, ``admin.authType``, ``admin.clientId``, ``admin.clientSecretLocation``,
``admin.clientSecretEnvVar``, ``admin.command``, ``admin.scopes``, ``task.org``/``project``/``domain``),
each overridable by ``FLYTE_<SECTION>_<KEY>`` (``FLYTE_ADMIN_INSECURESKIPVERIFY``), plus the official
aliases ``FLYTE_AUTH_TYPE`` and ``FLYTE_AUTH_COMMAND``. ``FLYTE_API_KEY`` carries endpoint and client
credentials in one string, encoded like the official SDK does (base64 of
``endpoint:client_id:client_secret:org``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any, NamedTuple

from flyte import config as fc
from flyte.config import flyte_home, get_config
from flyte.errors import ConfigError

AUTH_TYPES: dict[str, str] = {
    # accepted spelling (lower case) -> canonical name, as the official CLI accepts them
    "clientsecret": "ClientSecret", "client-secret": "ClientSecret", "client_secret": "ClientSecret",
    "app-credential": "ClientSecret", "app_credential": "ClientSecret",
    "pkce": "Pkce",
    "deviceflow": "DeviceFlow", "device-flow": "DeviceFlow", "device_flow": "DeviceFlow", "headless": "DeviceFlow",
    "externalcommand": "ExternalCommand", "external-command": "ExternalCommand",
    "external_command": "ExternalCommand", "command": "ExternalCommand", "custom": "ExternalCommand",
}


class ApiKey(NamedTuple):
    endpoint: str
    client_id: str
    client_secret: str
    org: str

    def __repr__(self) -> str:
        return (f"ApiKey(endpoint={self.endpoint!r}, client_id={self.client_id!r}, client_secret=<hidden>, "
                f"org={self.org!r})")


def encode_api_key(endpoint: str, client_id: str, client_secret: str, org: str = "") -> str:
    """The ``FLYTE_API_KEY`` string for these credentials (base64 of ``endpoint:client_id:client_secret:org``)."""
    return base64.b64encode(f"{endpoint}:{client_id}:{client_secret}:{org}".encode()).decode()


def decode_api_key(key: str) -> ApiKey:
    """Split an API key into its parts. The endpoint may itself hold colons (``dns:///host:443``)."""
    try:
        text = base64.b64decode(key.strip().encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ConfigError("FLYTE_API_KEY is not valid base64; copy the whole key as it was issued.") from None
    # Issued keys hold a bare host, and the official SDK splits from the left (the org may then hold ':').
    # An endpoint with a scheme or a port has colons of its own: then split from the right.
    if re.match(r"^(dns|https?|grpcs?):", text) or re.match(r"^[^:]+:\d+:", text):
        parts = text.rsplit(":", 3)
    else:
        parts = text.split(":", 3)
    if len(parts) != 4 or not parts[1] or not parts[2]:
        raise ConfigError("FLYTE_API_KEY does not hold endpoint:client_id:client_secret:org; it may be truncated.")
    endpoint, client_id, secret, org = parts
    return ApiKey(endpoint, client_id, secret, "" if org == "None" else org)


def parse_endpoint(endpoint: str, insecure: bool | None = None) -> tuple[str, bool]:
    """``dns:///host:port``, ``https://host``, ``http://host:port`` or ``host[:port]`` -> (``host:port``, insecure).

    ``http://`` means insecure, ``https://`` TLS; otherwise ``insecure`` decides (default: TLS).
    The default port is 443 with TLS, 80 without.
    """
    e = endpoint.strip()
    if not e:
        raise ConfigError("admin.endpoint is empty; set it to host:port (e.g. localhost:8090).")
    scheme_insecure: bool | None = None
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://(.*)$", e)
    if m:
        scheme, rest = m.group(1).lower(), m.group(2)
        if scheme == "http":
            scheme_insecure = True
        elif scheme == "https":
            scheme_insecure = False
        elif scheme not in ("dns", "grpc", "grpcs"):
            raise ConfigError(f"admin.endpoint {endpoint!r}: unknown scheme {scheme!r}; use host:port or dns:///host:port.")
        if scheme == "grpcs":
            scheme_insecure = False
        e = rest.lstrip("/")
    e = e.split("/", 1)[0]
    if not e:
        raise ConfigError(f"admin.endpoint {endpoint!r} has no host; use host:port (e.g. localhost:8090).")
    final_insecure = insecure if insecure is not None else bool(scheme_insecure)
    if e.startswith("["):  # [::1]:port
        host, _, port = e[1:].partition("]")
        port = port.lstrip(":")
        host = f"[{host}]"
    elif e.count(":") == 1:
        host, port = e.split(":")
    else:
        host, port = e, ""
    if port and not port.isdigit():
        raise ConfigError(f"admin.endpoint {endpoint!r}: port {port!r} is not a number.")
    return f"{host}:{port or (80 if final_insecure else 443)}", final_insecure


def _as_list(v: Any, *, argv: bool) -> list[str] | None:
    if v is None or v == "":
        return None
    if isinstance(v, list | tuple):
        return [str(x) for x in v]
    s = str(v).strip()
    if s.startswith("["):
        try:
            parsed = json.loads(s)
            if isinstance(parsed, list):
                return [str(x) for x in parsed]
        except json.JSONDecodeError:
            pass
    return shlex.split(s) if argv else [p for p in re.split(r"[,\s]+", s) if p]


def _bool(v: Any, key: str) -> bool:
    if isinstance(v, bool):
        return v
    if v is None or v == "":
        return False
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {v!r}.")


def canonical_auth_type(value: str | None) -> str | None:
    if not value:
        return None
    canon = AUTH_TYPES.get(str(value).strip().lower())
    if canon is None:
        names = sorted(set(AUTH_TYPES.values()))
        raise ConfigError(f"admin.authType {value!r} is not known. Use one of: {', '.join(names)}.")
    return canon


@dataclasses.dataclass(frozen=True)
class AdminSettings:
    """Everything a transport needs to reach and authenticate to a control plane.

    ``client_secret`` is never shown in ``repr``; ``auth_type=None`` means: send no credentials until
    the server asks for them (UNAUTHENTICATED), then log in with PKCE.
    """

    endpoint: str
    insecure: bool = False
    insecure_skip_verify: bool = False
    ca_cert_file_path: str | None = None
    auth_type: str | None = None
    client_id: str | None = None
    client_secret: str | None = dataclasses.field(default=None, repr=False)
    command: tuple[str, ...] | None = None
    scopes: tuple[str, ...] = ()
    audience: str | None = None
    org: str | None = None
    project: str | None = None
    domain: str | None = None
    token_cache: Path | None = None
    timeout: float = 30.0
    retries: int = 4
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def target(self) -> str:
        """``host:port`` as dialled."""
        return parse_endpoint(self.endpoint, self.insecure)[0]

    def with_(self, **changes: Any) -> AdminSettings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_config(cls, config: Any = None, **overrides: Any) -> AdminSettings:
        """Settings from the config file, ``FLYTE_*`` variables and CLI flags (``flyte --endpoint ...``).

        Raises :class:`~flyte.errors.ConfigError` when no endpoint is configured anywhere.
        """
        cfg = config or get_config()

        def get(key: str, *aliases: str) -> Any:
            for alias in aliases:
                if os.environ.get(alias):
                    return os.environ[alias]
            return cfg.get(key)

        api_key = os.environ.get("FLYTE_API_KEY")
        decoded = decode_api_key(api_key) if api_key else None
        # FLYTE_API_KEY beats the config file, as in the official CLI (so the file `flyte devbox start` wrote
        # does not shadow a key); --endpoint or FLYTE_ADMIN_ENDPOINT beat the key.
        endpoint = overrides.pop("endpoint", None) or _flag_or_env("admin.endpoint")
        key_endpoint = not endpoint and decoded is not None
        if decoded is not None and not endpoint:
            endpoint = decoded.endpoint
        endpoint = endpoint or cfg.get("admin.endpoint")
        if not endpoint:
            raise ConfigError(
                "No control plane is configured: pass --endpoint, set admin.endpoint in the config file "
                "(`flyte create config --endpoint HOST:PORT`), or set FLYTE_ADMIN_ENDPOINT or FLYTE_API_KEY."
            )
        insecure_raw = overrides.pop("insecure", None)
        if insecure_raw is None:
            # The file's admin.insecure belongs to the file's endpoint, not to the key's.
            insecure_raw = _flag_or_env("admin.insecure") if key_endpoint else cfg.get("admin.insecure")
        insecure = None if insecure_raw is None else _bool(insecure_raw, "admin.insecure")
        _, insecure = parse_endpoint(str(endpoint), insecure)

        auth_type = canonical_auth_type(get("admin.authType", "FLYTE_AUTH_TYPE"))
        client_id = cfg.get("admin.clientId")
        secret: str | None = None
        loc = cfg.get("admin.clientSecretLocation")
        env_name = cfg.get("admin.clientSecretEnvVar")
        if env_name:
            secret = os.environ.get(str(env_name))
            if secret is None:
                raise ConfigError(
                    f"admin.clientSecretEnvVar names {env_name}, which is not set; export it or remove the key."
                )
        elif loc:
            p = Path(str(loc)).expanduser()
            try:
                secret = p.read_text().strip()
            except OSError as e:
                raise ConfigError(f"admin.clientSecretLocation {p} cannot be read ({e.strerror}).") from None
        if decoded is not None:  # the key's credentials, whatever the file says (the official CLI's rule)
            client_id, secret = decoded.client_id, decoded.client_secret
            auth_type = "ClientSecret"
        if auth_type is None and client_id and secret:
            auth_type = "ClientSecret"
        command = _as_list(get("admin.command", "FLYTE_AUTH_COMMAND"), argv=True)
        if auth_type == "ExternalCommand" and not command:
            raise ConfigError("admin.authType is ExternalCommand but admin.command is not set.")
        if auth_type is None and command:
            auth_type = "ExternalCommand"
        if auth_type == "ClientSecret" and not (client_id and secret):
            raise ConfigError(
                "admin.authType is ClientSecret but the client id or secret is missing: set admin.clientId and "
                "admin.clientSecretLocation (a file) or admin.clientSecretEnvVar (a variable), or FLYTE_API_KEY."
            )
        timeout = cfg.get("admin.timeout")
        retries = cfg.get("admin.retries")
        home = flyte_home()
        values: dict[str, Any] = dict(
            endpoint=str(endpoint),
            insecure=insecure,
            insecure_skip_verify=_bool(cfg.get("admin.insecureSkipVerify"), "admin.insecureSkipVerify"),
            ca_cert_file_path=cfg.get("admin.caCertFilePath") or None,
            auth_type=auth_type,
            client_id=str(client_id) if client_id else None,
            client_secret=secret,
            command=tuple(command) if command else None,
            scopes=tuple(_as_list(cfg.get("admin.scopes"), argv=False) or ()),
            audience=cfg.get("admin.audience") or None,
            org=_flag_or_env("task.org") or (decoded.org if decoded else None) or cfg.get("task.org") or None,
            project=cfg.get("task.project") or None,
            domain=cfg.get("task.domain") or None,
            token_cache=Path(str(cfg.get("admin.tokenCache"))).expanduser() if cfg.get("admin.tokenCache")
            else home / "tokens",
            timeout=_number(timeout, "admin.timeout", float, 30.0, minimum=0.001),
            retries=int(_number(retries, "admin.retries", int, 4, minimum=0)),
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _number(value: Any, key: str, kind: type[float] | type[int], default: float, *, minimum: float) -> float:
    """A numeric setting, or a ConfigError naming the key (from the file or FLYTE_<SECTION>_<KEY>)."""
    if value is None or value == "":
        return default
    try:
        n = kind(value)
    except (TypeError, ValueError):
        what = "a number of seconds" if kind is float else "a whole number"
        raise ConfigError(f"{key} must be {what}, got {value!r}.") from None
    if n < minimum:
        raise ConfigError(f"{key} must be at least {minimum:g}, got {value!r}.")
    return n


def _flag_or_env(key: str) -> Any:
    """``key`` as a CLI flag (:func:`flyte.config.set_overrides`) or ``FLYTE_<SECTION>_<KEY>`` set it, else None."""
    value = fc._overrides.get(key)
    if value is None:
        value = os.environ.get("FLYTE_" + key.replace(".", "_").upper()) or None
    return value
