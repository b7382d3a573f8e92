"""Config files cross over: the official SDK (2.12.1) reads what `flyte create config` writes, and we read
what the official `flyte create config` writes. Needs dev.py's .official-venv (skipped without it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

OFFICIAL = Path(__file__).resolve().parents[1] / ".official-venv" / "bin"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (OFFICIAL / "python").exists(), reason="no .official-venv (python3 dev.py setup)")]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYTE", "UCTL"))}
    env.update(HOME=str(home))
    return env


def test_official_sdk_reads_our_config(tmp_path):
    out = tmp_path / "ours.yaml"
    r = subprocess.run([str(Path(sys.executable).parent / "flyte"), "create", "config", "--endpoint",
                        "flyte.example.com:8443", "--insecure", "--org", "acme", "--project", "p1", "--domain",
                        "development", "--builder", "local", "--registry", "ghcr.io/acme", "--auth-type",
                        "client-secret", "-o", str(out)], capture_output=True, text=True, env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    code = ("import json, flyte.config as c; cfg = c.auto(config_file=%r); p = cfg.platform; t = cfg.task; "
            "print(json.dumps([p.endpoint, p.insecure, p.auth_mode, t.org, t.project, t.domain]))" % str(out))
    r = subprocess.run([str(OFFICIAL / "python"), "-c", code], capture_output=True, text=True, env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    endpoint, insecure, auth_mode, org, project, domain = json.loads(r.stdout.strip().splitlines()[-1])
    assert endpoint == "dns:///flyte.example.com:8443" and insecure is True and auth_mode == "ClientSecret"
    assert (org, project, domain) == ("acme", "p1", "development")


def test_we_read_the_official_config(tmp_path):
    out = tmp_path / "theirs.yaml"
    r = subprocess.run([str(OFFICIAL / "flyte"), "create", "config", "--endpoint", "flyte.example.com:8443",
                        "--insecure", "--org", "acme", "--project", "p1", "--domain", "development",
                        "--builder", "local", "-o", str(out)], capture_output=True, text=True, env=_env(tmp_path),
                       input="n\n")
    assert r.returncode == 0, r.stderr
    from flyte.admin import AdminSettings
    from flyte.config import load_config

    s = AdminSettings.from_config(load_config(out))
    assert (s.target, s.insecure, s.org, s.project, s.domain) == ("flyte.example.com:8443", True, "acme", "p1",
                                                                  "development")
    assert load_config(out).get("image.builder") == "local"


def test_api_keys_decode_the_same_in_both_sdks(tmp_path):
    from flyte.admin import decode_api_key, encode_api_key

    key = encode_api_key("acme.cloud.example.com", "my-app", "s3cr/et+=", "acme")
    code = ("import json; from flyte.remote._client.auth._auth_utils import decode_api_key; "
            f"print(json.dumps(decode_api_key({key!r})))")
    r = subprocess.run([str(OFFICIAL / "python"), "-c", code], capture_output=True, text=True, env=_env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == list(decode_api_key(key))
