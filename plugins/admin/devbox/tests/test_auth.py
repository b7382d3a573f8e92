"""--auth: bearer tokens required, OAuth2 metadata, client-credentials token endpoint."""

from __future__ import annotations

import grpc
import httpx
import pytest
from flyte_devbox.testing import DevboxProcess
from flyteidl2.auth import auth_service_pb2 as authp
from flyteidl2.auth import auth_service_pb2_grpc as authg
from flyteidl2.project import project_service_pb2 as pj
from flyteidl2.project import project_service_pb2_grpc as pjg


@pytest.fixture(scope="module")
def authbox(tmp_path_factory):
    box = DevboxProcess(tmp_path_factory.mktemp("authbox"), auth=True)
    box.start()
    yield box
    box.stop()


def token(box: DevboxProcess, token_endpoint: str) -> str:
    r = httpx.post(token_endpoint, data={"grant_type": "client_credentials"}, auth=(box.client_id, box.client_secret))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return body["access_token"]


def test_metadata_is_open_and_points_at_the_token_endpoint(authbox):
    with grpc.insecure_channel(authbox.endpoint) as ch:
        md = authg.AuthMetadataServiceStub(ch).GetOAuth2Metadata(authp.GetOAuth2MetadataRequest())
        pub = authg.AuthMetadataServiceStub(ch).GetPublicClientConfig(authp.GetPublicClientConfigRequest())
    assert md.token_endpoint == f"{authbox.url}/oauth2/token"
    assert "client_credentials" in md.grant_types_supported
    assert pub.authorization_metadata_key == "authorization"


def test_requests_without_a_valid_token_are_refused(authbox):
    with grpc.insecure_channel(authbox.endpoint) as ch:
        stub = pjg.ProjectServiceStub(ch)
        with pytest.raises(grpc.RpcError) as e:
            stub.ListProjects(pj.ListProjectsRequest())
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED and "bearer token" in e.value.details()
        for bad in ("Bearer nope", "Bearer dbx1.9999999999.00", "Basic abc"):
            with pytest.raises(grpc.RpcError) as e:
                stub.ListProjects(pj.ListProjectsRequest(), metadata=[("authorization", bad)])
            assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    r = httpx.post(
        authbox.url + "/flyteidl2.project.ProjectService/ListProjects",
        content=b"",
        headers={"content-type": "application/proto"},
    )
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"


def test_client_credentials_token_is_accepted_over_both_protocols(authbox):
    tok = token(authbox, f"{authbox.url}/oauth2/token")
    with grpc.insecure_channel(authbox.endpoint) as ch:
        got = pjg.ProjectServiceStub(ch).ListProjects(
            pj.ListProjectsRequest(), metadata=[("authorization", f"Bearer {tok}")]
        )
    assert got.projects.projects
    r = httpx.post(
        authbox.url + "/flyteidl2.project.ProjectService/ListProjects",
        content=b"",
        headers={"content-type": "application/proto", "authorization": f"Bearer {tok}"},
    )
    assert r.status_code == 200


def test_token_endpoint_refuses_wrong_secrets_and_grants(authbox):
    url = f"{authbox.url}/oauth2/token"
    r = httpx.post(url, data={"grant_type": "client_credentials"}, auth=(authbox.client_id, "wrong"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = httpx.post(
        url, data={"grant_type": "password", "client_id": authbox.client_id, "client_secret": authbox.client_secret}
    )
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = httpx.post(
        url,
        data={
            "grant_type": "client_credentials",
            "client_id": authbox.client_id,
            "client_secret": authbox.client_secret,
        },
    )
    assert r.status_code == 200
    log = (authbox.data_dir / "devbox.log").read_text()
    assert authbox.client_secret not in log and r.json()["access_token"] not in log


def test_credentials_file_is_private_and_survives_a_restart(authbox):
    creds = authbox.data_dir / "credentials.json"
    assert creds.stat().st_mode & 0o777 == 0o600
    tok = token(authbox, f"{authbox.url}/oauth2/token")
    secret = authbox.client_secret
    authbox.stop()
    authbox.start()
    assert authbox.client_secret == secret
    with grpc.insecure_channel(authbox.endpoint) as ch:
        pjg.ProjectServiceStub(ch).ListProjects(pj.ListProjectsRequest(), metadata=[("authorization", f"Bearer {tok}")])


def test_whoami_is_the_client_the_token_was_issued_to(authbox):
    """UserInfo under --auth names the token's client, and a request header cannot claim another identity."""
    from flyteidl2.auth import identity_pb2, identity_pb2_grpc

    tok = token(authbox, f"{authbox.url}/oauth2/token")
    with grpc.insecure_channel(authbox.endpoint) as ch:
        info = identity_pb2_grpc.IdentityServiceStub(ch).UserInfo(
            identity_pb2.UserInfoRequest(),
            metadata=[("authorization", f"Bearer {tok}"), ("x-devbox-subject", "admin")],
        )
    assert info.subject == authbox.client_id and info.preferred_username == authbox.client_id
