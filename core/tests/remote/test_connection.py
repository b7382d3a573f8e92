"""Where remote runs go: flyte.init's endpoint and connection options over the config; defaults."""

from __future__ import annotations

from collections.abc import Iterator

import flyte
import pytest
from flyte.admin import encode_api_key
from flyte.remote.connection import target


@pytest.fixture(autouse=True)
def _reset_init() -> Iterator[None]:
    yield
    flyte.init()


def test_init_endpoint_and_defaults() -> None:
    flyte.init(endpoint="localhost:8090", insecure=True)
    t = target()
    assert t.settings.target == "localhost:8090" and t.settings.insecure
    assert (t.project, t.domain) == ("flytesnacks", "development")
    assert t.run_url("r1") == "http://localhost:8090/v2/runs/project/flytesnacks/domain/development/r1"
    assert target("p", "d").project == "p"


def test_official_init_options_api_key_and_client_credentials() -> None:
    flyte.init(api_key=encode_api_key("dns:///flyte.example.com", "cid", "s3cret", "acme"), project="ml")
    t = target()
    s = t.settings
    assert s.target == "flyte.example.com:443" and not s.insecure
    assert (s.auth_type, s.client_id, s.client_secret) == ("ClientSecret", "cid", "s3cret")
    assert (t.org, t.project) == ("acme", "ml")
    assert "s3cret" not in repr(s)
    flyte.init(endpoint="e:1", insecure=True, auth_type="client-secret", client_id="a", client_credentials_secret="b",
               rpc_retries=1)
    s = target().settings
    assert (s.auth_type, s.client_id, s.client_secret, s.retries) == ("ClientSecret", "a", "b", 1)


def test_no_endpoint_is_one_clear_error() -> None:
    flyte.init()
    with pytest.raises(flyte.errors.ConfigError, match="No control plane is configured"):
        target()
