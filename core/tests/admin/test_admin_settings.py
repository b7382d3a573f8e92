"""Admin settings: official keys, FLYTE_<SECTION>_<KEY> variables, API keys, endpoints, the file search order."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from flyte.admin import AdminSettings, decode_api_key, encode_api_key, is_remote_configured, parse_endpoint
from flyte.config import find_config_file, load_config, set_overrides
from flyte.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_overrides():
    set_overrides({})
    yield
    set_overrides({})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("endpoint,insecure,target,is_insecure", [
    ("dns:///flyte.example.com", None, "flyte.example.com:443", False),
    ("flyte.example.com:8443", None, "flyte.example.com:8443", False),
    ("http://localhost:8090", None, "localhost:8090", True),
    ("https://flyte.example.com/console", None, "flyte.example.com:443", False),
    ("localhost", True, "localhost:80", True),
    ("dns:///[::1]:9000", True, "[::1]:9000", True),
])
def test_parse_endpoint(endpoint, insecure, target, is_insecure):
    assert parse_endpoint(endpoint, insecure) == (target, is_insecure)


@pytest.mark.parametrize("bad", ["", "ftp://x", "host:port", "dns:///"])
def test_bad_endpoints_say_what_to_write(bad):
    with pytest.raises(ConfigError, match="admin.endpoint"):
        parse_endpoint(bad)


def test_api_key_round_trip_in_the_official_encoding():
    key = encode_api_key("dns:///acme.cloud.example:443", "my-app", "s3cr/et+=", "acme")
    # the official SDK's format: base64 of endpoint:client_id:client_secret:org
    assert base64.b64decode(key).decode() == "dns:///acme.cloud.example:443:my-app:s3cr/et+=:acme"
    k = decode_api_key(key)
    assert (k.endpoint, k.client_id, k.client_secret, k.org) == ("dns:///acme.cloud.example:443", "my-app",
                                                                  "s3cr/et+=", "acme")
    assert "s3cr" not in repr(k)
    assert decode_api_key(encode_api_key("h:1", "a", "b", "None")).org == ""
    # a bare host (what issued keys hold): split from the left like the official SDK (the org may hold ':')
    k = decode_api_key(encode_api_key("acme.example.com", "app", "secret", "org:x"))
    assert (k.endpoint, k.client_id, k.client_secret, k.org) == ("acme.example.com", "app", "secret", "org:x")


@pytest.mark.parametrize("bad", ["not base64!!", base64.b64encode(b"only:two").decode()])
def test_bad_api_key(bad):
    with pytest.raises(ConfigError, match="FLYTE_API_KEY"):
        decode_api_key(bad)


def test_official_yaml_keys(tmp_path):
    secret = write(tmp_path / "secret.txt", "  the-secret\n")
    cfg = write(tmp_path / "c.yaml", f"""
admin:
  endpoint: dns:///flyte.example.com:8443
  insecureSkipVerify: true
  caCertFilePath: /etc/ca.pem
  authType: ClientSecret
  clientId: my-app
  clientSecretLocation: {secret}
  scopes: [all, offline]
task:
  org: acme
  project: flytesnacks
  domain: development
""")
    s = AdminSettings.from_config(load_config(cfg))
    assert s.target == "flyte.example.com:8443" and not s.insecure and s.insecure_skip_verify
    assert s.ca_cert_file_path == "/etc/ca.pem"
    assert (s.auth_type, s.client_id, s.client_secret) == ("ClientSecret", "my-app", "the-secret")
    assert s.scopes == ("all", "offline")
    assert (s.org, s.project, s.domain) == ("acme", "flytesnacks", "development")
    assert "the-secret" not in repr(s)


def test_env_vars_follow_flyte_section_key(tmp_path, monkeypatch):
    cfg = write(tmp_path / "c.yaml", "admin:\n  endpoint: from-file:1\n")
    monkeypatch.setenv("FLYTE_ADMIN_ENDPOINT", "from-env:2")
    monkeypatch.setenv("FLYTE_ADMIN_INSECURE", "true")
    monkeypatch.setenv("FLYTE_ADMIN_CLIENTID", "env-app")
    monkeypatch.setenv("FLYTE_ADMIN_CLIENTSECRETENVVAR", "MY_SECRET")
    monkeypatch.setenv("MY_SECRET", "shh")
    monkeypatch.setenv("FLYTE_TASK_PROJECT", "p-env")
    monkeypatch.setenv("FLYTE_AUTH_COMMAND", "get-token --audience 'a b'")  # the official alias
    s = AdminSettings.from_config(load_config(cfg))
    assert s.target == "from-env:2" and s.insecure
    assert (s.client_id, s.client_secret, s.auth_type) == ("env-app", "shh", "ClientSecret")
    assert s.command == ("get-token", "--audience", "a b")
    assert s.project == "p-env"


def test_cli_overrides_beat_env_and_file(tmp_path, monkeypatch):
    cfg = write(tmp_path / "c.yaml", "admin:\n  endpoint: from-file:1\ntask:\n  project: pf\n")
    monkeypatch.setenv("FLYTE_ADMIN_ENDPOINT", "from-env:2")
    set_overrides({"admin.endpoint": "from-flag:3", "task.project": "pflag", "task.domain": None})
    s = AdminSettings.from_config(load_config(cfg))
    assert s.target == "from-flag:3" and s.project == "pflag" and s.domain is None


def test_auth_type_spellings_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("FLYTE_ADMIN_ENDPOINT", "h:1")
    monkeypatch.setenv("FLYTE_AUTH_TYPE", "headless")
    assert AdminSettings.from_config(load_config()).auth_type == "DeviceFlow"
    monkeypatch.setenv("FLYTE_AUTH_TYPE", "magic")
    with pytest.raises(ConfigError, match="magic.*Pkce"):
        AdminSettings.from_config(load_config())
    monkeypatch.setenv("FLYTE_AUTH_TYPE", "ClientSecret")
    with pytest.raises(ConfigError, match="clientSecretLocation"):
        AdminSettings.from_config(load_config())
    monkeypatch.setenv("FLYTE_AUTH_TYPE", "ExternalCommand")
    with pytest.raises(ConfigError, match="admin.command"):
        AdminSettings.from_config(load_config())


def test_missing_secret_sources_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("FLYTE_ADMIN_ENDPOINT", "h:1")
    monkeypatch.setenv("FLYTE_ADMIN_CLIENTSECRETENVVAR", "NOT_SET_ANYWHERE")
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE"):
        AdminSettings.from_config(load_config())
    monkeypatch.delenv("FLYTE_ADMIN_CLIENTSECRETENVVAR")
    monkeypatch.setenv("FLYTE_ADMIN_CLIENTSECRETLOCATION", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="clientSecretLocation"):
        AdminSettings.from_config(load_config())


def test_api_key_supplies_endpoint_and_credentials(monkeypatch):
    monkeypatch.setenv("FLYTE_API_KEY", encode_api_key("dns:///k.example:443", "kid", "ksecret", "korg"))
    assert is_remote_configured(load_config())
    s = AdminSettings.from_config(load_config())
    assert (s.target, s.client_id, s.client_secret, s.auth_type, s.org) == \
        ("k.example:443", "kid", "ksecret", "ClientSecret", "korg")


def test_no_endpoint_anywhere():
    assert not is_remote_configured(load_config())
    with pytest.raises(ConfigError, match="flyte create config"):
        AdminSettings.from_config(load_config())


class TestSearchOrder:
    """The official order: ./config.yaml, ./.flyte/, <git root>/.flyte/, $UCTL_CONFIG, $FLYTECTL_CONFIG,
    ~/.union/, ~/.flyte/."""

    @pytest.fixture(autouse=True)
    def _layout(self, tmp_path, monkeypatch):
        monkeypatch.delenv("FLYTE_CONFIG", raising=False)
        self.home = Path(os.environ["HOME"])
        self.repo = tmp_path / "repo"
        self.cwd = self.repo / "sub"
        self.cwd.mkdir(parents=True)
        (self.repo / ".git").mkdir()
        monkeypatch.chdir(self.cwd)
        self.mp = monkeypatch

    def test_each_location_in_turn(self):
        home_flyte = write(self.home / ".flyte/config.yaml", "admin: {endpoint: a:1}\n")
        assert find_config_file() == home_flyte
        home_union = write(self.home / ".union/config.yaml", "admin: {endpoint: a:1}\n")
        assert find_config_file() == home_union
        flytectl = write(self.home / "elsewhere/fc.yaml", "admin: {endpoint: a:1}\n")
        self.mp.setenv("FLYTECTL_CONFIG", str(flytectl))
        assert find_config_file() == flytectl
        uctl = write(self.home / "elsewhere/uc.yaml", "admin: {endpoint: a:1}\n")
        self.mp.setenv("UCTL_CONFIG", str(uctl))
        assert find_config_file() == uctl
        git_root = write(self.repo / ".flyte/config.yaml", "admin: {endpoint: a:1}\n")
        assert find_config_file() == git_root
        dot = write(self.cwd / ".flyte/config.yaml", "admin: {endpoint: a:1}\n")
        assert find_config_file() == dot
        bare = write(self.cwd / "config.yaml", "task: {project: p}\n")
        assert find_config_file() == bare

    def test_an_unrelated_config_yaml_in_cwd_is_skipped(self):
        write(self.cwd / "config.yaml", "database: {url: x}\n")
        dot = write(self.cwd / ".flyte/config.yaml", "admin: {endpoint: a:1}\n")
        assert find_config_file() == dot

    def test_flyte_config_wins(self, tmp_path):
        write(self.cwd / ".flyte/config.yaml", "admin: {endpoint: a:1}\n")
        explicit = write(tmp_path / "x.yaml", "admin: {endpoint: b:2}\n")
        self.mp.setenv("FLYTE_CONFIG", str(explicit))
        assert find_config_file() == explicit


def test_api_key_beats_the_config_file_but_not_a_flag_or_variable(tmp_path, monkeypatch):
    """As in the official CLI: FLYTE_API_KEY's endpoint, credentials and org win over the file (e.g. the one
    `flyte devbox start` wrote, insecure included); --endpoint / FLYTE_ADMIN_ENDPOINT win over the key."""
    cfg = write(tmp_path / "c.yaml", "admin:\n  endpoint: dns:///127.0.0.1:8090\n  insecure: true\n"
                "  clientId: file-id\n  clientSecretLocation: " + str(write(tmp_path / "s", "file-secret")) + "\n"
                "task:\n  org: file-org\n  project: p\n")
    monkeypatch.setenv("FLYTE_API_KEY", encode_api_key("dns:///k.example", "kid", "ksecret", "korg"))
    s = AdminSettings.from_config(load_config(cfg))
    assert (s.target, s.insecure, s.client_id, s.client_secret, s.auth_type, s.org, s.project) == \
        ("k.example:443", False, "kid", "ksecret", "ClientSecret", "korg", "p")
    monkeypatch.setenv("FLYTE_ADMIN_ENDPOINT", "from-env:2")
    assert AdminSettings.from_config(load_config(cfg)).target == "from-env:2"
    set_overrides({"admin.endpoint": "from-flag:3", "admin.insecure": True, "task.org": "flag-org"})
    s = AdminSettings.from_config(load_config(cfg))
    assert (s.target, s.insecure, s.org, s.client_id) == ("from-flag:3", True, "flag-org", "kid")


@pytest.mark.parametrize("key,value,match", [
    ("FLYTE_ADMIN_TIMEOUT", "abc", "admin.timeout must be a number of seconds"),
    ("FLYTE_ADMIN_TIMEOUT", "-1", "admin.timeout must be at least"),
    ("FLYTE_ADMIN_RETRIES", "x", "admin.retries must be a whole number"),
    ("FLYTE_ADMIN_RETRIES", "-2", "admin.retries must be at least 0"),
])
def test_bad_numbers_name_the_setting(monkeypatch, key, value, match):
    monkeypatch.setenv("FLYTE_ADMIN_ENDPOINT", "h:1")
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=match):
        AdminSettings.from_config(load_config())


def test_numbers_from_the_file_and_defaults(tmp_path):
    cfg = write(tmp_path / "c.yaml", "admin:\n  endpoint: h:1\n  timeout: 2.5\n  retries: 0\n")
    s = AdminSettings.from_config(load_config(cfg))
    assert (s.timeout, s.retries) == (2.5, 0)
    s = AdminSettings.from_config(load_config(write(tmp_path / "d.yaml", "admin:\n  endpoint: h:1\n")))
    assert (s.timeout, s.retries) == (30.0, 4)
