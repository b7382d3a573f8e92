"""Build output and error reporting shared by the engine-driving builders.

:class:`BuildLog` keeps every line, tracks the Dockerfile step being run (both Docker's
``Step 2/5 : RUN ...`` and Buildah's ``STEP 2/5: RUN ...``) and turns an engine error into an
:class:`~flyte.images.errors.ImageBuildError` naming that step with the last lines of output.
"""

from __future__ import annotations

import os
import platform as _platform
import re
from collections.abc import Callable
from typing import Any

from flyte.images.credentials import split_reference
from flyte.images.errors import ImageBuildError, RegistryAuthError, RegistryError

_STEP = re.compile(r"^(?:Step|STEP) \d+/\d+ ?: ?(.*)$")
_AUTH_WORDS = ("unauthorized", "authentication required", "denied", "no basic auth credentials", "401", "403")


def host_platform() -> str:
    machine = _platform.machine().lower()
    return "linux/arm64" if machine in ("aarch64", "arm64") else "linux/amd64"


def network_option(options: dict[str, Any]) -> str | None:
    """Network for ``RUN`` steps: the ``network`` option, else ``FLYTE_IMAGE_BUILD_NETWORK``, else the
    engine's default."""
    return options.get("network") or os.environ.get("FLYTE_IMAGE_BUILD_NETWORK") or None


class BuildLog:
    """Collects build output, remembers the current step and passes lines on."""

    def __init__(self, on_output: Callable[[str], None] | None) -> None:
        self.lines: list[str] = []
        self.step: str | None = None
        self._on_output = on_output

    def add(self, text: str) -> None:
        for line in text.splitlines():
            line = line.rstrip()
            if not line:
                continue
            self.lines.append(line)
            m = _STEP.match(line)
            if m:
                self.step = m.group(1).strip()
            if self._on_output:
                self._on_output(line)

    def tail(self, n: int = 25) -> str:
        return "\n".join(self.lines[-n:])

    def failure(self, uri: str, error: str) -> ImageBuildError:
        where = f" at step `{self.step}`" if self.step else ""
        summary = f"building {uri} failed{where}: {error.strip()}"
        return ImageBuildError(
            f"{summary}\n--- build output (last lines) ---\n{self.tail()}" if self.lines else summary,
            uri=uri,
            step=self.step,
            log="\n".join(self.lines),
            summary=summary,
        )


def push_error(uri: str, error: str) -> RegistryError:
    host = split_reference(uri)[0]
    low = error.lower()
    if any(w in low for w in _AUTH_WORDS):
        return RegistryAuthError(
            f"registry {host} refused the push of {uri}: {error.strip()}. Log in (docker login {host}), "
            "fix ~/.docker/config.json, or set image.registry_username / image.registry_password",
            registry=host,
        )
    return RegistryError(f"pushing {uri} to registry {host} failed: {error.strip()}", registry=host)
