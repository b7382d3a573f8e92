"""Where remote runs go: the control plane's settings and the project/domain/org, from ``flyte.init`` or the config.

``flyte.init(endpoint=..., project=..., domain=...)`` wins over ``flyte.init_from_config()`` /
the config file / ``FLYTE_*`` variables / CLI flags, which win over the defaults
(``flytesnacks``/``development``, as the official SDK's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flyte.admin import AdminSettings

DEFAULT_PROJECT = "flytesnacks"
DEFAULT_DOMAIN = "development"


@dataclass(frozen=True)
class Target:
    """Where a run goes: the connection settings plus the org, project and domain of the run."""

    settings: AdminSettings
    org: str
    project: str
    domain: str
    root_dir: Path | None = None

    @property
    def console_url(self) -> str:
        """``http(s)://host:port`` of the control plane (its UI lives there)."""
        return f"{'http' if self.settings.insecure else 'https'}://{self.settings.target}"

    def run_url(self, name: str) -> str:
        return f"{self.console_url}/v2/runs/project/{self.project}/domain/{self.domain}/{name}"


def target(project: str | None = None, domain: str | None = None) -> Target:
    """The control plane and project/domain runs go to (raises ConfigError when no endpoint is configured)."""
    from flyte import _initialize
    from flyte.admin import AdminSettings
    from flyte.errors import ConfigError

    init = _initialize.get_init_config()
    overrides: dict[str, object] = {}
    if init is not None:
        overrides.update(_init_overrides(init.extra))
        if init.endpoint:
            overrides["endpoint"] = init.endpoint
            if init.insecure:
                overrides["insecure"] = True
    try:
        settings = AdminSettings.from_config(**overrides)
    except ConfigError as e:
        if not str(e).startswith(NO_ENDPOINT) or _in_cli():
            raise
        raise ConfigError(
            f"{NO_ENDPOINT}: call flyte.init(endpoint='HOST:PORT') (insecure=True for a plaintext devbox) or "
            "flyte.init_from_config() (reads the config file that `flyte create config --endpoint HOST:PORT` or "
            "`flyte devbox start` writes) before running, or set FLYTE_ADMIN_ENDPOINT or FLYTE_API_KEY."
        ) from None
    org = (init.org if init is not None else None) or settings.org or ""
    return Target(
        settings=settings,
        org=org,
        project=project or (init.project if init else None) or settings.project or DEFAULT_PROJECT,
        domain=domain or (init.domain if init else None) or settings.domain or DEFAULT_DOMAIN,
        root_dir=init.root_dir if init is not None else None,
    )


NO_ENDPOINT = "No control plane is configured"  # how AdminSettings.from_config's no-endpoint error begins


def _in_cli() -> bool:
    """Whether a ``flyte`` CLI command is running (its errors name CLI flags; Python callers get ``flyte.init``)."""
    import sys

    click = sys.modules.get("click")
    return click is not None and click.get_current_context(silent=True) is not None


def _init_overrides(extra: dict[str, object]) -> dict[str, object]:
    """Connection options of the official ``flyte.init`` (``api_key``, ``auth_type``, ``client_id``...) as settings."""
    from flyte.admin import decode_api_key
    from flyte.admin.settings import canonical_auth_type

    out: dict[str, object] = {}
    key = extra.get("api_key")
    if key:
        k = decode_api_key(str(key))
        out.update(endpoint=k.endpoint, client_id=k.client_id, client_secret=k.client_secret, auth_type="ClientSecret")
        if k.org:
            out["org"] = k.org
    for name, setting in (("insecure_skip_verify", "insecure_skip_verify"), ("ca_cert_file_path", "ca_cert_file_path"),
                          ("client_id", "client_id"), ("client_credentials_secret", "client_secret"),
                          ("rpc_retries", "retries")):
        if extra.get(name) is not None:
            out[setting] = extra[name]
    if extra.get("auth_type"):
        out["auth_type"] = canonical_auth_type(str(extra["auth_type"]))
    if extra.get("command"):
        cmd = extra["command"]
        out["command"] = tuple(cmd) if isinstance(cmd, list | tuple) else (str(cmd),)
    return out
