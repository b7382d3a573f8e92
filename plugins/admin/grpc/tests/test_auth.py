"""Auth against a real token endpoint: API key, client credentials, external command, device flow, cache."""

from __future__ import annotations

import json
import stat
import sys
import time

import pytest
from flyte.admin import AdminAuthError, AdminSettings, encode_api_key
from flyte.config import load_config
from flyte_grpc.auth import TokenCache
from flyte_grpc.transport import GrpcClient
from flyteidl2.project import project_service_pb2 as pb

LIST = pb.ListProjectsRequest()


def settings_for(srv, tokens, tmp_path, **kw) -> AdminSettings:
    base = dict(endpoint=srv.endpoint, insecure=True, token_cache=tmp_path / "tokens", auth_type="ClientSecret",
                client_id=tokens.client_id, client_secret=tokens.client_secret)
    base.update(kw)
    return AdminSettings(**base)


async def test_api_key_in_the_official_encoding(auth_server, tokens, monkeypatch, tmp_path):
    key = encode_api_key(f"dns:///{auth_server.endpoint}", tokens.client_id, tokens.client_secret, "acme")
    monkeypatch.setenv("FLYTE_API_KEY", key)
    monkeypatch.setenv("FLYTE_ADMIN_INSECURE", "true")
    s = AdminSettings.from_config(load_config())
    assert s.target == auth_server.endpoint and s.auth_type == "ClientSecret" and s.org == "acme"
    assert tokens.client_secret not in repr(s)
    async with GrpcClient(s) as c:
        resp = await c.project.ListProjects(LIST)
    assert resp.projects.projects[0].id == "flytesnacks"
    assert auth_server.plane.metadata[-1]["authorization"] == "Bearer tok-1"
    assert tokens.requests[0]["grant_type"] == "client_credentials"


async def test_client_secret_from_a_file_named_in_the_config(auth_server, tokens, tmp_path, monkeypatch):
    (tmp_path / "secret").write_text(tokens.client_secret + "\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"admin:\n  endpoint: dns:///{auth_server.endpoint}\n  insecure: true\n  authType: ClientSecret\n"
                   f"  clientId: {tokens.client_id}\n  clientSecretLocation: {tmp_path / 'secret'}\n"
                   f"  scopes: [all, offline]\n")
    s = AdminSettings.from_config(load_config(cfg))
    async with GrpcClient(s) as c:
        await c.project.ListProjects(LIST)
    assert tokens.requests[-1]["scope"] == "all offline"


async def test_wrong_client_secret_says_what_to_check(auth_server, tokens, tmp_path):
    s = settings_for(auth_server, tokens, tmp_path, client_secret="wrong")
    async with GrpcClient(s) as c:
        with pytest.raises(AdminAuthError) as e:
            await c.project.ListProjects(LIST)
    assert "invalid_client" in str(e.value) and "admin.clientId" in str(e.value)
    assert "wrong" not in str(e.value)


async def test_server_without_auth_metadata_fails_clearly(server, tmp_path):
    s = AdminSettings(endpoint=server.endpoint, insecure=True, token_cache=tmp_path, auth_type="ClientSecret",
                      client_id="a", client_secret="b")
    async with GrpcClient(s) as c:
        with pytest.raises(Exception, match="AuthMetadataService"):
            await c.project.ListProjects(LIST)


async def test_external_command(auth_server, tokens, tmp_path):
    tokens.valid.add("cmd-token-7")
    script = tmp_path / "tok.py"
    script.write_text("print('cmd-token-7')\n")
    s = AdminSettings(endpoint=auth_server.endpoint, insecure=True, token_cache=tmp_path / "t",
                      auth_type="ExternalCommand", command=(sys.executable, str(script)))
    async with GrpcClient(s) as c:
        await c.project.ListProjects(LIST)
        await c.project.ListProjects(LIST)
    assert [m["authorization"] for m in auth_server.plane.metadata] == ["Bearer cmd-token-7"] * 2
    assert c.authenticator.refreshes == 1
    assert not (tmp_path / "t").exists()  # an external command's token is never cached by us


async def test_external_command_failure_is_reported(auth_server, tmp_path):
    s = AdminSettings(endpoint=auth_server.endpoint, insecure=True, token_cache=None, auth_type="ExternalCommand",
                      command=(sys.executable, "-c", "import sys; sys.stderr.write('no login\\n'); sys.exit(3)"))
    async with GrpcClient(s) as c:
        with pytest.raises(AdminAuthError, match="exited with 3: no login"):
            await c.project.ListProjects(LIST)


async def test_token_cache_file_is_private_and_reused(auth_server, tokens, tmp_path):
    s = settings_for(auth_server, tokens, tmp_path)
    async with GrpcClient(s) as c:
        await c.project.ListProjects(LIST)
    files = list((tmp_path / "tokens").iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tokens").stat().st_mode) == 0o700
    async with GrpcClient(s) as c2:
        await c2.project.ListProjects(LIST)
    assert len(tokens.requests) == 1  # the second client used the cached token


async def test_refresh_on_unauthenticated(auth_server, tokens, tmp_path):
    s = settings_for(auth_server, tokens, tmp_path)
    async with GrpcClient(s) as c:
        await c.project.ListProjects(LIST)
        tokens.valid.clear()  # the server revokes every token
        await c.project.CreateProject(pb.CreateProjectRequest(project=pb.Project(id="p9")))
    assert "p9" in auth_server.plane.projects
    assert [m.get("authorization") for m in auth_server.plane.metadata] == \
        ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    cached = json.loads(next((tmp_path / "tokens").iterdir()).read_text())
    assert cached["access_token"] == "tok-2"


async def test_refresh_before_expiry(auth_server, tokens, tmp_path):
    s = settings_for(auth_server, tokens, tmp_path)
    cache = TokenCache(tmp_path / "tokens")
    from flyte_grpc.auth import Token

    tokens.valid.add("old")
    cache.save(f"{s.target}|ClientSecret|{tokens.client_id}", Token("old", None, time.time() + 10), s.target)
    async with GrpcClient(s) as c:
        await c.project.ListProjects(LIST)
    # expiring within the skew: replaced before the call, so the server saw no UNAUTHENTICATED round trip
    assert [m["authorization"] for m in auth_server.plane.metadata] == ["Bearer tok-1"]


async def test_lazy_default_sends_nothing_until_asked(server, tmp_path):
    s = AdminSettings(endpoint=server.endpoint, insecure=True, token_cache=tmp_path / "tokens")
    async with GrpcClient(s) as c:
        await c.project.ListProjects(LIST)
    assert "authorization" not in server.plane.metadata[-1]
    assert "GetOAuth2Metadata" not in server.plane.calls


async def test_device_flow_with_refresh_token(auth_server, tokens, tmp_path):
    said: list[str] = []
    s = AdminSettings(endpoint=auth_server.endpoint, insecure=True, token_cache=tmp_path / "tokens",
                      auth_type="DeviceFlow")
    async with GrpcClient(s, auth_kwargs={"out": said.append}) as c:
        await c.project.ListProjects(LIST)
        assert "ABCD-EFGH" in said[0] and "http://example/verify" in said[0]
        tokens.valid.clear()
        await c.project.ListProjects(LIST)
    grants = [r.get("grant_type") for r in tokens.requests if r["_path"] == "/token"]
    assert grants == ["urn:ietf:params:oauth:grant-type:device_code"] * 2 + ["refresh_token"]
    assert all("tok-" not in line for line in said)


async def test_pkce_login_through_the_loopback_redirect(auth_server, tokens, tmp_path, monkeypatch):
    import urllib.parse

    import httpx

    seen: dict[str, str] = {}

    async def browser(url: str) -> None:
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(url).query))
        seen.update(q)
        # play the identity provider: send the browser back to the redirect URI with a code
        async with httpx.AsyncClient() as http:
            r = await http.get(f"{q['redirect_uri']}?code=the-code&state={q['state']}")
            assert r.status_code == 200

    orig = tokens._handle

    def handle(path, form, authz):
        if form.get("grant_type") == "authorization_code":
            tokens.requests.append(dict(form, _path=path))
            assert form["code"] == "the-code" and len(form["code_verifier"]) >= 43
            return 200, tokens.issue()
        return orig(path, form, authz)

    monkeypatch.setattr(tokens, "_handle", handle)
    s = AdminSettings(endpoint=auth_server.endpoint, insecure=True, token_cache=tmp_path / "tokens")
    async with GrpcClient(s, auth_kwargs={"open_browser": browser}) as c:
        await c.project.ListProjects(LIST)  # lazy: UNAUTHENTICATED first, then the login
    assert seen["code_challenge_method"] == "S256" and seen["client_id"] == "flytectl"
    assert auth_server.plane.metadata[-1]["authorization"] == "Bearer tok-1"


def test_tokens_never_in_reprs(tmp_path):
    from flyte_grpc.auth import Token

    t = Token("sekrit-access", "sekrit-refresh", None)
    assert "sekrit" not in repr(t)
    s = AdminSettings(endpoint="x:1", client_secret="sekrit-client")
    assert "sekrit" not in repr(s)


async def test_concurrent_calls_share_one_refresh(auth_server, tokens, tmp_path):
    import asyncio

    s = settings_for(auth_server, tokens, tmp_path)
    async with GrpcClient(s) as c:
        await c.project.ListProjects(LIST)
        tokens.valid.clear()
        await asyncio.gather(*(c.project.ListProjects(LIST) for _ in range(20)))
    assert len(tokens.requests) == 2  # the first token, then one refresh for all twenty refused calls
    assert auth_server.plane.metadata[-1]["authorization"] == "Bearer tok-2"


async def test_unwritable_token_cache_does_not_fail_the_call(auth_server, tokens, tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    s = settings_for(auth_server, tokens, tmp_path, token_cache=blocker / "tokens")
    async with GrpcClient(s) as c:
        await c.project.ListProjects(LIST)
    assert "Could not cache the token" in caplog.text
    assert "tok-1" not in caplog.text
