"""Nothing outside the run store and the static folder is served; values never show signatures."""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flyte.console.api import ConsoleApp
from flyte.console.local import LocalRunStore


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no client-side normalisation of '..' or escapes)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=False, skip_accept_encoding=True)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


SECRET = b"TOP-SECRET-CONTENT"

TRAVERSALS = [
    "/static/../api.py", "/static/%2e%2e/api.py", "/static/%2e%2e%2fapi.py", "/static/..%2f..%2fsecret.txt",
    "/static/%2fetc%2fpasswd", "//etc/passwd", "/static//etc/passwd", "/static/%5c..%5csecret.txt",
    "/static/app.css%00.png", "/static/.hidden", "/static/outside-link.txt", "/api/runs/..", "/api/runs/%2e%2e",
    "/api/runs/%2e%2e%2fsecret.txt/actions/a0", "/api/runs/{run}/actions/..%2f..%2fsecret/report",
    "/api/runs/{run}/actions/%2e%2e/report", "/api/runs/linked-run", "/api/runs/linked-run/actions/a0",
    "/api/runs/{run}/actions/a1/report", "/runs/../../secret.txt", "/secret.txt", "/api/runs/%ff",
    "/../secret.txt", "/static/%2e%2e%5csecret.txt",
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, sample_runs: Any) -> Any:
    """A console over a copy of the sample runs with traps around it: secrets beside and above, symlinks out."""
    import shutil

    root = tmp_path_factory.mktemp("hostile")
    (root / "secret.txt").write_bytes(SECRET)
    base = root / "runs"
    shutil.copytree(sample_runs.base, base, symlinks=True)
    run = sample_runs.names["fanout"]
    os.symlink(root, base / "linked-run")  # a run dir that is a symlink out of the store
    (root / "fake").mkdir()
    (root / "fake" / "run.json").write_text(json.dumps({"phase": "SUCCEEDED", "task": "x"}))
    # a report that is a symlink to the secret (a1 exists in the run)
    os.symlink(root / "secret.txt", base / run / "reports" / "a1.html")
    static = root / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>x</title>")
    (static / "app.css").write_text("body{}")
    (static / ".hidden").write_bytes(SECRET)
    os.symlink(root / "secret.txt", static / "outside-link.txt")
    from flyte.console.server import serving

    with serving(ConsoleApp(LocalRunStore(base), static_dir=static)) as server:
        yield server.url, run


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_attempts_are_refused(hostile: Any, path: str) -> None:
    url, run = hostile
    status, body = raw_get(url, path.format(run=run))
    assert status in (400, 404), (path, status)
    assert SECRET not in body
    assert json.loads(body)["error"]


def test_the_static_files_and_pages_are_served(hostile: Any) -> None:
    url, run = hostile
    assert raw_get(url, "/static/app.css") == (200, b"body{}")
    assert raw_get(url, f"/runs/{run}")[0] == 200
    assert raw_get(url, "/static/index.html")[0] == 200


def test_methods_other_than_get_are_refused_outside_abort(hostile: Any) -> None:
    url, run = hostile
    parts = urlsplit(url)
    for method, path in (("POST", "/static/app.css"), ("PUT", f"/api/runs/{run}"), ("DELETE", "/api/runs"),
                         ("POST", f"/api/runs/{run}")):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request(method, path, body=b"")
        r = conn.getresponse()
        assert r.status == 405, (method, path)
        r.read()
        conn.close()


def test_binds_loopback_by_default() -> None:
    from flyte.console.server import serving

    with serving(ConsoleApp(LocalRunStore(Path("/nonexistent")))) as server:
        assert server.server_address[0] == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")


def test_signed_url_signatures_and_userinfo_never_appear_in_values() -> None:
    from flyte.console.render import render_literal, render_literal_map
    from flyteidl2.core import literals_pb2

    lit = literals_pb2.Literal()
    lit.scalar.blob.uri = "https://bucket.s3.amazonaws.com/data/f.csv?X-Amz-Signature=abc123&X-Amz-Credential=AKIA"
    shown = render_literal(lit, "f")
    assert shown["type"] == "File" and shown["uri"] == "https://bucket.s3.amazonaws.com/data/f.csv"
    assert "abc123" not in json.dumps(shown) and "AKIA" not in json.dumps(shown)
    d = literals_pb2.Literal()
    d.scalar.blob.uri = "s3://user:pass@bucket/dir"
    d.scalar.blob.metadata.type.dimensionality = 1
    shown = render_literal(d, "d")
    assert shown["type"] == "Dir" and "pass" not in json.dumps(shown)
    s = literals_pb2.Literal()
    s.scalar.primitive.string_value = "see https://h/k?sig=SECRETSIG&sv=1 now"
    assert "SECRETSIG" not in render_literal(s, "s")["value"]
    long = literals_pb2.Literal()
    long.scalar.primitive.string_value = "x" * 20_000
    value = render_literal(long, "long")["value"]
    assert len(value) == 10_000 and value.endswith("…")
    m = literals_pb2.LiteralMap()
    m.literals["xs"].collection.literals.add().scalar.primitive.integer = 1
    m.literals["xs"].collection.literals.add().scalar.primitive.integer = 2
    assert render_literal_map(m.SerializeToString()) == [{"name": "xs", "type": "list[int]", "value": "[1, 2]",
                                                          "uri": None}]


def _request(url: str, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", "0")
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_a_page_of_another_site_cannot_read_the_console_through_dns_rebinding(hostile: Any) -> None:
    """A site whose name was made to resolve to 127.0.0.1 (DNS rebinding) sends its own name as Host: refused, so the
    loopback bind keeps runs private from pages in the user's browser; loopback names are served."""
    url, run = hostile
    port = urlsplit(url).port
    for host in ("evil.example.com", f"evil.example.com:{port}", f"127.0.0.1.nip.io:{port}"):
        status, body = _request(url, "GET", "/api/runs", {"Host": host})
        assert status == 403, host
        assert b"Host" in body and run.encode() not in body
    assert _request(url, "GET", f"/runs/{run}", {"Host": "evil.example.com"})[0] == 403
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}", f"LOCALHOST:{port}"):
        assert _request(url, "GET", "/api/runs", {"Host": host})[0] == 200, host


def test_a_cross_site_post_is_refused(hostile: Any) -> None:
    """A POST from a page of another origin (a form, fetch no-cors) or from a sandboxed report (Origin: null)."""
    url, run = hostile
    host = urlsplit(url).netloc
    for origin in ("http://evil.example.com", "null", f"http://{host}.evil.example.com"):
        status, body = _request(url, "POST", f"/api/runs/{run}/abort", {"Host": host, "Origin": origin})
        assert status == 403 and b"another site" in body, origin
    # the console's own page (same origin), or a client that sends no Origin (curl): on to the store (403 local)
    status, body = _request(url, "POST", f"/api/runs/{run}/abort", {"Host": host, "Origin": url})
    assert status == 403 and b"Ctrl-C" in body


def test_any_host_is_served_when_bound_to_all_interfaces() -> None:
    app = ConsoleApp(LocalRunStore(Path("/nonexistent")), any_host=True)
    assert app.handle("GET", "/api/runs", "", {"host": "box.lan:8088"}).status == 200
    assert ConsoleApp(LocalRunStore(Path("/nonexistent"))).handle(
        "GET", "/api/runs", "", {"host": "box.lan:8088"}).status == 403


def test_a_huge_value_is_rendered_from_its_start_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page asks for a live run's root inputs every second: a 2,000,000-item list took ~3 s of CPU each time (every
    item converted and dumped, then cut at 10 kB); a 50 MB string was scrubbed whole. Only what is shown is read:
    counted in conversions and scrubbed characters, not timed."""
    from flyte.console import render
    from flyte.console.render import MAX_VALUE_CHARS, render_literal
    from flyteidl2.core import literals_pb2

    converted = 0
    real_plain = render._plain

    def counting_plain(*args: Any, **kwargs: Any) -> Any:
        nonlocal converted
        converted += 1
        return real_plain(*args, **kwargs)

    scrubbed: list[int] = []
    real_scrub = render.scrub_text

    def measuring_scrub(text: str) -> str:
        scrubbed.append(len(text))
        return real_scrub(text)

    monkeypatch.setattr(render, "_plain", counting_plain)
    monkeypatch.setattr(render, "scrub_text", measuring_scrub)

    one = literals_pb2.Literal()
    one.collection.literals.add().scalar.primitive.integer = 7
    lit = literals_pb2.Literal()
    lit.collection.CopyFrom(literals_pb2.LiteralCollection.FromString(one.collection.SerializeToString() * 2_000_000))
    shown = render_literal(lit, "xs")
    assert converted <= MAX_VALUE_CHARS + 2, converted  # at most one item per shown character, not 2,000,000
    assert shown["type"] == "list[int]" and shown["value"].startswith("[7, 7, 7")
    assert len(shown["value"]) == MAX_VALUE_CHARS and shown["value"].endswith("…")
    nested = literals_pb2.Literal()
    for _ in range(3):
        nested.map.literals["k"].CopyFrom(lit)
    converted = 0
    assert render_literal(nested, "m")["value"].startswith('{"k": [7, 7')
    assert converted <= MAX_VALUE_CHARS + 4, converted
    s = literals_pb2.Literal()
    s.scalar.primitive.string_value = "see https://h/k?sig=SECRETSIG&sv=1 " + "x" * 50_000_000
    scrubbed.clear()
    value = render_literal(s, "s")["value"]
    assert scrubbed and max(scrubbed) < 2 * MAX_VALUE_CHARS, scrubbed  # not the 50 MB
    assert len(value) == MAX_VALUE_CHARS and value.endswith("…") and "SECRETSIG" not in value
    edge = literals_pb2.Literal()  # a signed URL across the cut is still scrubbed
    edge.scalar.primitive.string_value = "x" * (MAX_VALUE_CHARS - 40) + " https://h/k?sig=SECRETSIG" + "y" * 50_000
    assert "SECRETSIG" not in render_literal(edge, "e")["value"]
    small = literals_pb2.Literal()
    small.collection.literals.add().scalar.primitive.integer = 1
    assert render_literal(small, "one")["value"] == "[1]"
