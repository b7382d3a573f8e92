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

    init = _initialize.get_init_config()
    overrides: dict[str, object] = {}
    if init is not None and init.endpoint:
        overrides["endpoint"] = init.endpoint
        if init.insecure:
            overrides["insecure"] = True
    settings = AdminSettings.from_config(**overrides)
    org = (init.org if init is not None else None) or settings.org or ""
    return Target(
        settings=settings,
        org=org,
        project=project or (init.project if init else None) or settings.project or DEFAULT_PROJECT,
        domain=domain or (init.domain if init else None) or settings.domain or DEFAULT_DOMAIN,
        root_dir=init.root_dir if init is not None else None,
    )
