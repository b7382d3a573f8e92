"""The ``podman`` image builder: drives the Podman (libpod) API service with the ``podman`` package.

The service is found from the ``base_url`` option, else ``CONTAINER_HOST``, else the default
socket (``/run/podman/podman.sock`` for root, ``$XDG_RUNTIME_DIR/podman/podman.sock`` otherwise).
Start one with ``podman system service --time=0``.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from typing import TYPE_CHECKING, Any

from flyte.images.builder import BuildRequest, EngineBuilder
from flyte.images.buildlog import BuildLog, push_error
from flyte.images.credentials import split_reference
from flyte.images.errors import ImageBuildError
from flyte.images.registry import is_insecure

if TYPE_CHECKING:
    import podman


def default_socket() -> str:
    if os.geteuid() == 0:
        return "/run/podman/podman.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    return f"{runtime}/podman/podman.sock"


def _message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:500]
    if isinstance(data, dict):
        return str(data.get("message") or data.get("cause") or data.get("error") or data)
    return str(data)


class PodmanBuilder(EngineBuilder):
    """Build with the Podman API service.

    Options: ``base_url`` (``unix:///...``), ``timeout`` (seconds of silence, default 1800), ``network`` (for
    ``RUN`` steps, e.g. ``none``).
    """

    name = "podman"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.base_url: str = options.get("base_url") or os.environ.get("CONTAINER_HOST") or f"unix://{default_socket()}"
        self._client: podman.PodmanClient | None = None

    def client(self) -> podman.PodmanClient:
        if self._client is None:
            import podman

            self._client = podman.PodmanClient(base_url=self.base_url, timeout=self.timeout)
        return self._client

    def check_available(self) -> str | None:
        url = self.base_url
        if url.startswith("unix://") and not os.path.exists(url[len("unix://") :]):
            return (
                f"no Podman API socket at {url[len('unix://'):]}; start one with "
                f"`podman system service --time=0 {url}` or set CONTAINER_HOST"
            )
        try:
            import podman

            with podman.PodmanClient(base_url=url, timeout=5) as client:
                if not client.ping():
                    return f"the Podman service at {url} did not answer its ping"
        except ImportError:
            return "the 'podman' package is not installed (pip install flyte-podman)"
        except Exception as e:
            return f"no Podman service answering at {url}: {type(e).__name__}: {e}"
        return None

    def exists_locally(self, uri: str) -> bool:
        """Whether the service's store already has ``uri`` (``GET /images/{name}/exists``)."""
        resp = self.client().api.get(f"/images/{urllib.parse.quote_plus(uri)}/exists")
        if resp.status_code == 204:
            return True
        if resp.status_code == 404:
            return False
        raise ImageBuildError(f"asking the Podman service whether {uri} exists failed: HTTP {resp.status_code}: "
                              f"{_message(resp.text)}", uri=uri)

    def build_context(self, request: BuildRequest, log: BuildLog) -> None:
        from podman.api import create_tar

        uri = request.uri
        params: dict[str, Any] = {"t": uri, "rm": True, "forcerm": True, "layers": True, "pull": False,
                                  "dockerfile": request.dockerfile}
        if request.platform:
            params["platform"] = request.platform
        if request.network:
            params["networkmode"] = request.network
        body = create_tar(anchor=str(request.context))
        try:
            resp = self.client().api.post(
                "/build", params=params, data=body, headers={"Content-type": "application/x-tar"},
                stream=True, timeout=request.timeout,
            )
            if resp.status_code >= 400:
                raise log.failure(uri, f"HTTP {resp.status_code}: {_message(resp.text)}")
            for raw in resp.iter_lines():
                if not raw:
                    continue
                chunk = json.loads(raw)
                if "stream" in chunk:
                    log.add(chunk["stream"])
                if chunk.get("error"):
                    raise log.failure(uri, str(chunk["error"]))
        finally:
            body.close()

    def push(self, uri: str, log: BuildLog) -> None:
        from podman.api import encode_auth_header

        host = split_reference(uri)[0]
        creds = self.credentials(uri)
        auth = encode_auth_header({"username": creds.username, "password": creds.password}) if creds else b""
        headers = {"X-Registry-Auth": auth.decode("ascii")}
        params = {"destination": uri, "tlsVerify": not is_insecure(host)}
        try:
            resp = self.client().api.post(
                f"/images/{urllib.parse.quote_plus(uri)}/push", params=params, headers=headers, stream=True,
                timeout=self.timeout,
            )
            if resp.status_code >= 400:
                raise push_error(uri, f"HTTP {resp.status_code}: {_message(resp.text)}")
            for raw in resp.iter_lines():
                if not raw:
                    continue
                try:
                    chunk = json.loads(raw)
                except ValueError:
                    log.add(f"push: {raw.decode(errors='replace')}")
                    continue
                if isinstance(chunk, dict) and chunk.get("error"):
                    raise push_error(uri, str(chunk["error"]))
                if isinstance(chunk, dict) and chunk.get("stream"):
                    log.add(f"push: {chunk['stream']}")
        except ImageBuildError:
            raise
        except OSError as e:
            raise push_error(uri, f"{type(e).__name__}: {e}") from e
