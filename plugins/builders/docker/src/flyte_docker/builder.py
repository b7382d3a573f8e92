"""The ``docker`` image builder: drives any Docker Engine API with the ``docker`` package.

Works against dockerd and against ``podman system service`` (its Docker-compatible API). The
engine is found from the ``base_url`` option, else ``DOCKER_HOST``, else the default socket.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte.images.builder import ImageBuilder
from flyte.images.buildlog import BuildLog, host_platform, network_option, push_error
from flyte.images.dockerfile import stage_context
from flyte.images.errors import ImageBuildError

if TYPE_CHECKING:
    import docker
    from flyte._image import Image

DEFAULT_SOCKET = "/var/run/docker.sock"


class DockerBuilder(ImageBuilder):
    """Build with a Docker Engine API (dockerd, or podman's compatible service).

    Options: ``base_url`` (``unix:///...`` or ``tcp://...``), ``timeout`` (seconds for each API
    call, default 1800: a build step may be silent for long), ``network`` (for ``RUN`` steps, e.g. ``none``).
    """

    name = "docker"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.base_url: str | None = options.get("base_url") or os.environ.get("DOCKER_HOST") or None
        self.timeout = float(options.get("timeout", 1800))
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
