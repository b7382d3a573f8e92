"""The ``docker`` image builder: drives any Docker Engine API with the ``docker`` package.

Works against dockerd and against ``podman system service`` (its Docker-compatible API). The
engine is found from the ``base_url`` option, else ``DOCKER_HOST``, else the default socket.
"""

from __future__ import annotations

import os
import platform as _platform
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte.images.builder import ImageBuilder
from flyte.images.credentials import split_reference
from flyte.images.dockerfile import stage_context
from flyte.images.errors import ImageBuildError, RegistryAuthError, RegistryError

if TYPE_CHECKING:
    import docker

    from flyte._image import Image

DEFAULT_SOCKET = "/var/run/docker.sock"
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
        return ImageBuildError(
            f"building {uri} failed{where}: {error.strip()}\n--- build output (last lines) ---\n{self.tail()}",
            uri=uri,
            step=self.step,
            log="\n".join(self.lines),
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


class DockerBuilder(ImageBuilder):
    """Build with a Docker Engine API (dockerd, or podman's compatible service).

    Options: ``base_url`` (``unix:///...`` or ``tcp://...``), ``timeout`` (seconds for each API
    call, default 300), ``network`` (for ``RUN`` steps, e.g. ``none``).
    """

    name = "docker"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.base_url: str | None = options.get("base_url") or os.environ.get("DOCKER_HOST") or None
        self.timeout = float(options.get("timeout", 300))
        self._client: docker.APIClient | None = None

    def _url(self) -> str:
        return self.base_url or f"unix://{DEFAULT_SOCKET}"

    def api(self) -> docker.APIClient:
        if self._client is None:
            import docker

            self._client = docker.APIClient(base_url=self._url(), timeout=self.timeout, version="auto")
        return self._client

    def check_available(self) -> str | None:
        url = self._url()
        if url.startswith("unix://") and not os.path.exists(url[len("unix://") :]):
            src = "DOCKER_HOST" if self.base_url else "default socket; DOCKER_HOST is not set"
            return (
                f"no Docker Engine socket at {url[len('unix://'):]} ({src}); start dockerd or "
                "`podman system service`, or point DOCKER_HOST at one"
            )
        try:
            import docker

            client = docker.APIClient(base_url=url, timeout=5, version="1.41")
            try:
                client.ping()
            finally:
                client.close()
        except ImportError:
            return "the 'docker' package is not installed (pip install flyte-docker)"
        except Exception as e:
            return f"no Docker Engine answering at {url}: {type(e).__name__}: {e}"
        return None

    def build(self, image: Image, *, push: bool = True, on_output: Callable[[str], None] | None = None) -> str:
        import docker.errors

        uri = image.uri
        log = BuildLog(on_output)
        if len(image.platform) > 1:
            raise ImageBuildError(f"{uri}: the docker builder builds one platform at a time, got {image.platform}",
                                  uri=uri)
        kwargs: dict[str, Any] = {}
        if image.platform[0] != host_platform():
            kwargs["platform"] = image.platform[0]
        net = network_option(self.options)
        if net:
            kwargs["network_mode"] = net
        ctx = Path(tempfile.mkdtemp(prefix="flyte-build-"))
        try:
            dockerfile = stage_context(image, ctx)
            try:
                stream = self.api().build(
                    path=str(ctx), dockerfile=dockerfile.name, tag=uri, rm=True, forcerm=True, decode=True,
                    pull=False, **kwargs,
                )
                self._consume_build(stream, log, uri)
            except docker.errors.DockerException as e:
                raise log.failure(uri, f"{type(e).__name__}: {e}") from e
        finally:
            shutil.rmtree(ctx, ignore_errors=True)
        if push:
            self.push(uri, log)
        return uri

    @staticmethod
    def _consume_build(stream: Iterable[dict[str, Any]], log: BuildLog, uri: str) -> None:
        for chunk in stream:
            if "stream" in chunk:
                log.add(chunk["stream"])
            elif "status" in chunk:
                log.add(str(chunk["status"]))
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail") or {}
                raise log.failure(uri, str(chunk.get("error") or detail.get("message") or chunk))

    def push(self, uri: str, log: BuildLog) -> None:
        import docker.errors

        repo, _, tag = uri.rpartition(":")
        creds = self.credentials(uri)
        auth = {"username": creds.username, "password": creds.password} if creds else None
        try:
            for chunk in self.api().push(repo, tag=tag, stream=True, decode=True, auth_config=auth):
                if "error" in chunk or "errorDetail" in chunk:
                    detail = chunk.get("errorDetail") or {}
                    raise push_error(uri, str(chunk.get("error") or detail.get("message")))
                if "status" in chunk and chunk.get("progressDetail") in (None, {}):
                    log.add(f"push: {chunk['status']}")
        except docker.errors.DockerException as e:
            raise push_error(uri, f"{type(e).__name__}: {e}") from e
        except OSError as e:  # read timeouts of the engine socket
            raise push_error(uri, f"{type(e).__name__}: {e}") from e
