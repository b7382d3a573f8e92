"""The ``docker`` image builder: drives any Docker Engine API with the ``docker`` package.

Works against dockerd and against ``podman system service`` (its Docker-compatible API). The
engine is found from the ``base_url`` option, else ``DOCKER_HOST``, else the default socket.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flyte.images.builder import BuildRequest, EngineBuilder
from flyte.images.buildlog import BuildLog, push_error

if TYPE_CHECKING:
    import docker

DEFAULT_SOCKET = "/var/run/docker.sock"


class DockerBuilder(EngineBuilder):
    """Build with a Docker Engine API (dockerd, or podman's compatible service).

    Options: ``base_url`` (``unix:///...`` or ``tcp://...``), ``timeout`` (seconds for each API
    call, default 1800: a build step may be silent for long), ``network`` (for ``RUN`` steps, e.g. ``none``).
    """

    name = "docker"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.base_url: str | None = options.get("base_url") or os.environ.get("DOCKER_HOST") or None
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

    def exists_locally(self, uri: str) -> bool:
        """Whether the engine already has ``uri`` (``docker image inspect``)."""
        import docker.errors

        try:
            self.api().inspect_image(uri)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.NotFound:
            return False
        return True

    def build_context(self, request: BuildRequest, log: BuildLog) -> None:
        kwargs: dict[str, Any] = {}
        if request.platform:
            kwargs["platform"] = request.platform
        if request.network:
            kwargs["network_mode"] = request.network
        stream = self.api().build(
            path=str(request.context), dockerfile=request.dockerfile, tag=request.uri, rm=True, forcerm=True,
            decode=True, pull=False, **kwargs,
        )
        self._consume_build(stream, log, request.uri)

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
