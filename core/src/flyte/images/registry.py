"""Ask a registry whether an image exists: a manifest ``HEAD`` through the Registry HTTP API.

``True`` on 200, ``False`` on 404, and an error for everything else: an unreachable registry,
a server error or refused credentials never count as "the image is there". Loopback registries
(``localhost``, ``127.*``, ``[::1]``) and hosts in ``FLYTE_IMAGE_INSECURE_REGISTRIES``
(comma-separated) are spoken to over plain HTTP.

Example::

    from flyte.images.registry import manifest_exists
    manifest_exists("127.0.0.1:5000/flyte:0123abcd")
"""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING, Any

from flyte.images.credentials import DOCKER_HUB, Credentials, credentials_for, split_reference
from flyte.images.errors import RegistryAuthError, RegistryUnreachableError

if TYPE_CHECKING:
    import httpx

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    )
)
TIMEOUT = 10.0

_clients: dict[str, httpx.Client] = {}
_lock = threading.Lock()


def is_insecure(host: str) -> bool:
    bare = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    if bare in ("localhost", "[::1]") or bare.startswith("127."):
        return True
    extra = {h.strip() for h in os.environ.get("FLYTE_IMAGE_INSECURE_REGISTRIES", "").split(",") if h.strip()}
    return host in extra


def base_url(host: str) -> str:
    api_host = "registry-1.docker.io" if host == DOCKER_HUB else host
    return f"{'http' if is_insecure(host) else 'https'}://{api_host}"


def _client(timeout: float) -> httpx.Client:
    import httpx

    key = f"{timeout}"
    with _lock:
        c = _clients.get(key)
        if c is None:
            c = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=True)
            _clients[key] = c
        return c


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


def _auth_header(
    client: httpx.Client, host: str, repo: str, challenge: str, creds: Credentials | None
) -> dict[str, str] | None:
    scheme, params = _challenge(challenge)
    if scheme == "basic":
        if creds is None:
            return None
        return {"Authorization": _basic(creds)}
    if scheme == "bearer" and "realm" in params:
        query = {"service": params.get("service", host), "scope": params.get("scope", f"repository:{repo}:pull")}
        headers = {"Authorization": _basic(creds)} if creds else {}
        r = client.get(params["realm"], params=query, headers=headers)
        if r.status_code in (401, 403):
            return None
        if r.status_code != 200:
            raise RegistryUnreachableError(
                f"token service {params['realm']} of registry {host} answered HTTP {r.status_code}", registry=host
            )
        data: dict[str, Any] = r.json()
        token = data.get("token") or data.get("access_token")
        return {"Authorization": f"Bearer {token}"} if token else None
    return None


def _basic(creds: Credentials) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()


def manifest_exists(uri: str, *, timeout: float = TIMEOUT, credentials: Credentials | None = None) -> bool:
    """Whether the registry has ``uri``. Raises :class:`RegistryUnreachableError` or
    :class:`RegistryAuthError` when it cannot tell."""
    import httpx

    host, repo, ref = split_reference(uri)
    url = f"{base_url(host)}/v2/{repo}/manifests/{ref}"
    headers = {"Accept": MANIFEST_TYPES}
    client = _client(timeout)
    try:
        r = client.head(url, headers=headers)
        if r.status_code == 401:
            creds = credentials if credentials is not None else credentials_for(host)
            auth = _auth_header(client, host, repo, r.headers.get("www-authenticate", ""), creds)
            if auth is None:
                hint = (
                    f"the credentials from {creds.source} were refused" if creds
                    else "no credentials were found (docker login, ~/.docker/config.json or image.registry_username)"
                )
                raise RegistryAuthError(f"registry {host} needs authentication to check {uri}: {hint}", registry=host)
            r = client.head(url, headers={**headers, **auth})
    except httpx.HTTPError as e:
        raise RegistryUnreachableError(
            f"could not reach registry {host} to check whether {uri} exists ({type(e).__name__}: {e}). "
            "Is the registry running and the address right?",
            registry=host,
        ) from e
    if r.status_code == 200:
        return True
    if r.status_code == 404:
        return False
    if r.status_code in (401, 403):
        creds = credentials if credentials is not None else credentials_for(host)
        where = f"the credentials from {creds.source}" if creds else "anonymous access"
        raise RegistryAuthError(
            f"registry {host} refused {where} when checking {uri} (HTTP {r.status_code}); "
            "check the username and password (docker login, image.registry_username)",
            registry=host,
        )
    raise RegistryUnreachableError(
        f"registry {host} answered HTTP {r.status_code} when checking whether {uri} exists; "
        "cannot tell if the image is there, so nothing was built or skipped",
        registry=host,
    )
