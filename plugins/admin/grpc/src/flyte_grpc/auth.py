"""Credentials for the control plane: API key / client credentials, an external command, PKCE and device flow.

Endpoints of the OAuth2 server are discovered through ``AuthMetadataService`` (GetOAuth2Metadata,
GetPublicClientConfig) on the control plane itself. OAuth tokens are cached in one file per endpoint
and client under ``~/.flyte/tokens`` (mode 0600, directory 0700), refreshed a minute before they
expire and again whenever the server answers UNAUTHENTICATED. Tokens never appear in logs, errors
or reprs.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import logging
import os
import secrets
import ssl
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte.admin import AdminAuthError, AdminSettings

if TYPE_CHECKING:
    import httpx  # imported on use: only a login or a token request needs it (~70 ms of imports)

log = logging.getLogger("flyte.grpc.auth")

EXPIRY_SKEW = 60.0  # refresh this many seconds before a token expires


@dataclasses.dataclass
class Token:
    access_token: str = dataclasses.field(repr=False)
    refresh_token: str | None = dataclasses.field(default=None, repr=False)
    expires_at: float | None = None

    def expiring(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now or time.time()) >= self.expires_at - EXPIRY_SKEW


@dataclasses.dataclass(frozen=True)
class ServerAuthConfig:
    """What the control plane says about its OAuth2 server (AuthMetadataService)."""

    token_endpoint: str = ""
    authorization_endpoint: str = ""
    device_authorization_endpoint: str = ""
    client_id: str = ""
    redirect_uri: str = ""
    scopes: tuple[str, ...] = ()
    header_key: str = "authorization"
    audience: str = ""


class TokenCache:
    """One JSON file per (endpoint, auth type, client id), readable by its owner only."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def path(self, key: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")

    def load(self, key: str) -> Token | None:
        p = self.path(key)
        if p is None or not p.is_file():
            return None
        try:
            data = json.loads(p.read_text())
            return Token(data["access_token"], data.get("refresh_token"), data.get("expires_at"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, key: str, token: Token, endpoint: str) -> None:
        p = self.path(key)
        if p is None:
            return
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = p.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # the umask or an old file must not widen it
            with os.fdopen(fd, "w") as f:
                json.dump({"endpoint": endpoint, "access_token": token.access_token,
                           "refresh_token": token.refresh_token, "expires_at": token.expires_at}, f)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, p)

    def delete(self, key: str) -> None:
        p = self.path(key)
        if p is not None:
            p.unlink(missing_ok=True)


def basic_auth(client_id: str, client_secret: str) -> str:
    """HTTP Basic credentials as OAuth2 servers (and the official SDK) expect them: the secret URL-encoded."""
    raw = f"{client_id}:{urllib.parse.quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def http_verify(settings: AdminSettings) -> bool | ssl.SSLContext:
    if settings.insecure_skip_verify:
        return False
    if settings.ca_cert_file_path:
        return ssl.create_default_context(cafile=str(Path(settings.ca_cert_file_path).expanduser()))
    return True


class Authenticator:
    """Supplies the auth header; obtains, caches and refreshes the token behind it.

    ``eager``: fetch a token before the first call. The default authenticator (no ``admin.authType``)
    is lazy: it sends nothing until the server answers UNAUTHENTICATED, so a control plane without auth
    never opens a browser.
    """

    kind = "none"
    cacheable = True

    def __init__(
        self,
        settings: AdminSettings,
        discover: Callable[[], Awaitable[ServerAuthConfig]],
        *,
        eager: bool = True,
    ) -> None:
        self.settings = settings
        self._discover = discover
        self.eager = eager
        self._server: ServerAuthConfig | None = None
        self._lock = asyncio.Lock()
        self.cache = TokenCache(settings.token_cache if self.cacheable else None)
        self.cache_key = f"{settings.target}|{self.kind}|{settings.client_id or ''}"
        self._token: Token | None = self.cache.load(self.cache_key)
        self.refreshes = 0  # how many tokens this authenticator obtained (tests, diagnostics)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self.settings.target}>"

    async def server_config(self) -> ServerAuthConfig:
        if self._server is None:
            self._server = await self._discover()
        return self._server

    async def header(self) -> tuple[str, str] | None:
        """``(metadata key, "Bearer ...")`` for the next call, or None when none is needed yet."""
        tok = self._token
        if tok is None and not self.eager:
            return None
        if tok is None or tok.expiring():
            await self.refresh(tok.access_token if tok else None)
            tok = self._token
        if tok is None:
            return None
        key = self._server.header_key if self._server else "authorization"
        return key, f"Bearer {tok.access_token}"

    def current(self) -> str | None:
        return self._token.access_token if self._token else None

    async def refresh(self, stale: str | None) -> None:
        """Replace the token ``stale`` (None: whatever is held). Concurrent callers wait for one refresh."""
        async with self._lock:
            if self._token is not None and self._token.access_token != stale and not self._token.expiring():
                return  # someone else refreshed it while we waited
            old = self._token
            try:
                new = await self._renew(old) if old is not None and old.refresh_token else None
            except AdminAuthError:
                new = None
            if new is None:
                new = await self._obtain()
            self._token = new
            self.refreshes += 1
            if self.cacheable:
                try:
                    self.cache.save(self.cache_key, new, self.settings.target)
                except OSError as e:
                    # The call can go on; the next process will just log in again.
                    log.warning("Could not cache the token in %s (%s); the next command will log in again.",
                                self.cache.directory, e.strerror or e)

    async def _obtain(self) -> Token:
        raise NotImplementedError

    async def _renew(self, old: Token) -> Token | None:
        """Use the refresh token; None when there is none to use."""
        server = await self.server_config()
        if not old.refresh_token or not server.token_endpoint:
            return None
        form = {"grant_type": "refresh_token", "refresh_token": old.refresh_token,
                "client_id": self.settings.client_id or server.client_id}
        return await self._token_request(form, keep_refresh=old.refresh_token)

    # -- HTTP -----------------------------------------------------------------

    def _url(self, url: str) -> str:
        if url.startswith("/"):
            scheme = "http" if self.settings.insecure else "https"
            return f"{scheme}://{self.settings.target}{url}"
        return url

    def _http(self) -> httpx.AsyncClient:
        import httpx

        return httpx.AsyncClient(verify=http_verify(self.settings), timeout=self.settings.timeout)

    async def _token_request(
        self, form: dict[str, str], *, headers: dict[str, str] | None = None, keep_refresh: str | None = None
    ) -> Token:
        server = await self.server_config()
        if not server.token_endpoint:
            raise AdminAuthError(
                f"{self.settings.target} does not advertise a token endpoint (AuthMetadataService.GetOAuth2Metadata);"
                " check admin.endpoint, or use admin.authType ExternalCommand with admin.command.",
                code="UNAUTHENTICATED",
            )
        url = self._url(server.token_endpoint)
        scopes = self.settings.scopes or server.scopes
        if scopes and "scope" not in form:
            form["scope"] = " ".join(scopes)
        audience = self.settings.audience or server.audience
        if audience and "audience" not in form:
            form["audience"] = audience
        h = {"Accept": "application/json", "Cache-Control": "no-cache", **(headers or {})}
        import httpx

        try:
            async with self._http() as http:
                resp = await http.post(url, data=form, headers=h)
        except httpx.HTTPError as e:
            raise AdminAuthError(f"Token endpoint {_no_query(url)} could not be reached: {type(e).__name__}: {e}",
                                 code="UNAVAILABLE") from None
        data = _json(resp)
        if resp.status_code != 200 or "access_token" not in data:
            err = data.get("error") or f"HTTP {resp.status_code}"
            desc = data.get("error_description") or ""
            raise TokenEndpointError(str(err), f"Token endpoint {_no_query(url)} refused the request: {err}"
                                     + (f" ({desc})" if desc else "") + self._hint(), code="UNAUTHENTICATED")
        expires_in = data.get("expires_in")
        return Token(
            str(data["access_token"]),
            data.get("refresh_token") or keep_refresh,
            time.time() + float(expires_in) if expires_in else None,
        )

    def _hint(self) -> str:
        return ""


class TokenEndpointError(AdminAuthError):
    def __init__(self, oauth_error: str, message: str, *, code: str = "UNAUTHENTICATED") -> None:
        super().__init__(message, code=code)
        self.oauth_error = oauth_error


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _no_query(url: str) -> str:
    return url.split("?", 1)[0]


class ClientCredentialsAuthenticator(Authenticator):
    """OAuth2 client credentials (``admin.authType: ClientSecret``, and ``FLYTE_API_KEY``)."""

    kind = "ClientSecret"

    async def _obtain(self) -> Token:
        s = self.settings
        assert s.client_id and s.client_secret
        return await self._token_request(
            {"grant_type": "client_credentials"}, headers={"Authorization": basic_auth(s.client_id, s.client_secret)}
        )

    async def _renew(self, old: Token) -> Token | None:
        return None  # a new client-credentials token is as cheap as a refresh

    def _hint(self) -> str:
        return "; check admin.clientId and the client secret (or FLYTE_API_KEY)."


class ExternalCommandAuthenticator(Authenticator):
    """Runs ``admin.command``; its stdout (stripped) is the bearer token. Never cached by us."""

    kind = "ExternalCommand"
    cacheable = False

    async def _obtain(self) -> Token:
        cmd = list(self.settings.command or ())
        shown = cmd[0] if cmd else "(empty)"
        try:
            proc = await asyncio.create_subprocess_exec(
                *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            out, err = await asyncio.wait_for(proc.communicate(), timeout=max(self.settings.timeout, 60.0))
        except FileNotFoundError:
            raise AdminAuthError(f"admin.command: {shown!r} was not found on PATH.", code="UNAUTHENTICATED") from None
        except TimeoutError:
            raise AdminAuthError(f"admin.command {shown!r} did not finish in time.", code="UNAUTHENTICATED") from None
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise AdminAuthError(
                f"admin.command {shown!r} exited with {proc.returncode}: {tail[0][:200]}; "
                "run it in a terminal to debug.",
                code="UNAUTHENTICATED",
            )
        token = out.decode().strip()
        if not token:
            raise AdminAuthError(f"admin.command {shown!r} printed no token.", code="UNAUTHENTICATED")
        return Token(token)

    async def _renew(self, old: Token) -> Token | None:
        return None

    async def header(self) -> tuple[str, str] | None:
        hdr = await super().header()
        return ("authorization", hdr[1]) if hdr else None


class DeviceFlowAuthenticator(Authenticator):
    """RFC 8628 device authorization: prints a URL and code, polls the token endpoint."""

    kind = "DeviceFlow"

    def __init__(self, *args: Any, out: Callable[[str], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._out = out or (lambda m: print(m, file=sys.stderr, flush=True))

    async def _obtain(self) -> Token:
        server = await self.server_config()
        if not server.device_authorization_endpoint:
            other = ("use admin.authType Pkce (a browser login)" if server.authorization_endpoint else
                     "use FLYTE_API_KEY, or admin.authType ClientSecret (admin.clientId + admin.clientSecretLocation) "
                     "or ExternalCommand (admin.command)")
            raise AdminAuthError(f"{self.settings.target} does not offer device flow (no device authorization "
                                 f"endpoint); {other}.", code="UNAUTHENTICATED")
        client_id = self.settings.client_id or server.client_id
        form = {"client_id": client_id}
        scopes = self.settings.scopes or server.scopes
        if scopes:
            form["scope"] = " ".join(scopes)
        if self.settings.audience or server.audience:
            form["audience"] = self.settings.audience or server.audience
        async with self._http() as http:
            resp = await http.post(self._url(server.device_authorization_endpoint), data=form)
        data = _json(resp)
        if resp.status_code != 200 or "device_code" not in data:
            raise AdminAuthError(f"Device authorization failed: {data.get('error') or resp.status_code}",
                                 code="UNAUTHENTICATED")
        uri = data.get("verification_uri_complete") or data.get("verification_uri")
        self._out(f"To log in to {self.settings.target}, open {uri} and enter the code {data.get('user_code')}")
        interval = float(data.get("interval", 5))
        deadline = time.monotonic() + float(data.get("expires_in") or 600)
        while time.monotonic() < deadline:
            await asyncio.sleep(interval)
            try:
                return await self._token_request({
                    "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                    "device_code": data["device_code"], "client_id": client_id,
                })
            except TokenEndpointError as e:
                if e.oauth_error == "authorization_pending":
                    continue
                if e.oauth_error == "slow_down":
                    interval += 5
                    continue
                raise
        raise AdminAuthError("The device code expired before the login was approved; run the command again.",
                             code="UNAUTHENTICATED")


class PkceAuthenticator(Authenticator):
    """Authorization code with PKCE: opens a browser and listens on the redirect URI on loopback."""

    kind = "Pkce"

    def __init__(self, *args: Any, open_browser: Callable[[str], Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open = open_browser

    async def _obtain(self) -> Token:
        if self._open is None and not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise AdminAuthError(
                f"The control plane at {self.settings.target} requires credentials and there is no terminal for a "
                "browser login: set FLYTE_API_KEY, or admin.authType ClientSecret (admin.clientId + "
                "admin.clientSecretLocation), ExternalCommand (admin.command) or DeviceFlow.",
                code="UNAUTHENTICATED",
            )
        server = await self.server_config()
        if not server.authorization_endpoint:
            raise AdminAuthError(
                f"{self.settings.target} advertises no authorization endpoint for a browser (PKCE) login: use "
                "FLYTE_API_KEY, or admin.authType ClientSecret (admin.clientId + admin.clientSecretLocation) or "
                "ExternalCommand (admin.command).", code="UNAUTHENTICATED")
        client_id = self.settings.client_id or server.client_id
        redirect = server.redirect_uri or "http://localhost:53593/callback"
        verifier = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("=")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        state = secrets.token_urlsafe(24)
        params = {"client_id": client_id, "response_type": "code", "redirect_uri": redirect, "state": state,
                  "code_challenge": challenge, "code_challenge_method": "S256"}
        scopes = self.settings.scopes or server.scopes
        if scopes:
            params["scope"] = " ".join(scopes)
        url = self._url(server.authorization_endpoint) + "?" + urllib.parse.urlencode(params)
        code = await _receive_code(redirect, state, url, self._open, timeout=300.0)
        return await self._token_request({"grant_type": "authorization_code", "code": code, "client_id": client_id,
                                          "redirect_uri": redirect, "code_verifier": verifier})


async def _receive_code(
    redirect: str, state: str, auth_url: str, open_browser: Callable[[str], Any] | None, timeout: float
) -> str:
    """Serve the redirect URI on loopback once and return the authorization code it receives."""
    parsed = urllib.parse.urlparse(redirect)
    if parsed.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise AdminAuthError(f"PKCE redirect URI {redirect} is not on loopback; use admin.authType DeviceFlow.",
                             code="UNAUTHENTICATED")
    result: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await reader.readline()).decode(errors="replace")
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            target = line.split(" ")[1] if line.count(" ") >= 2 else "/"
            q = urllib.parse.parse_qs(urllib.parse.urlparse(target).query)
            ok = q.get("state", [""])[0] == state and "code" in q
            body = b"Logged in to Flyte; you can close this tab." if ok else b"Login failed; see the terminal."
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n" % len(body) + body)
            await writer.drain()
            if not result.done():
                if ok:
                    result.set_result(q["code"][0])
                elif "error" in q or q.get("state", [""])[0] == state:
                    result.set_exception(AdminAuthError(f"Login refused: {q.get('error', ['no code'])[0]}",
                                                        code="UNAUTHENTICATED"))
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, parsed.hostname, parsed.port or 80)
    try:
        if open_browser is None:
            import webbrowser

            print(f"Opening a browser to log in; if none opens, visit:\n{auth_url}", file=sys.stderr, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, webbrowser.open, auth_url)
        else:
            r = open_browser(auth_url)
            if asyncio.iscoroutine(r):
                await r
        return await asyncio.wait_for(result, timeout)
    except TimeoutError:
        raise AdminAuthError("No login arrived within 5 minutes; run the command again.",
                             code="UNAUTHENTICATED") from None
    finally:
        srv.close()


AUTHENTICATORS: dict[str, type[Authenticator]] = {
    "ClientSecret": ClientCredentialsAuthenticator,
    "ExternalCommand": ExternalCommandAuthenticator,
    "DeviceFlow": DeviceFlowAuthenticator,
    "Pkce": PkceAuthenticator,
}


def make_authenticator(
    settings: AdminSettings, discover: Callable[[], Awaitable[ServerAuthConfig]], **kwargs: Any
) -> Authenticator:
    """The authenticator for ``settings.auth_type``; None there means a lazy PKCE login (only when asked)."""
    if settings.auth_type is None:
        return PkceAuthenticator(settings, discover, eager=False, **kwargs)
    return AUTHENTICATORS[settings.auth_type](settings, discover, **kwargs)
