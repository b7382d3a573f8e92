"""The console's JSON API over real local runs (made with flyte.run), through the real HTTP server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest


def get(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def get_json(url: str, method: str = "GET") -> tuple[int, Any]:
    status, _, body = get(url, method)
    return status, json.loads(body)


def test_info_and_runs_list(console_server: Any) -> None:
    status, info = get_json(console_server.url + "/api/info")
    assert status == 200
    assert info["source"] == "local" and info["can_abort"] is False
    status, doc = get_json(console_server.url + "/api/runs")
    assert status == 200
    names = [r["name"] for r in doc["runs"]]
    assert set(console_server.names.values()) <= set(names)
    starts = [r["start"] for r in doc["runs"]]
    assert starts == sorted(starts, reverse=True), "newest first"
    fanout = next(r for r in doc["runs"] if r["name"] == console_server.names["fanout"])
    assert fanout["phase"] == "SUCCEEDED"
    assert fanout["task"] == "console_samples.fanout"
    # a0, 4 squares, middle and its 2 leaves, reporting
    assert fanout["actions"] == {"total": 9, "SUCCEEDED": 9}
    assert fanout["duration"] is not None and fanout["duration"] >= 0
    failing = next(r for r in doc["runs"] if r["name"] == console_server.names["failing"])
    assert failing["phase"] == "FAILED" and "it broke" in failing["error"]
    assert "\n" not in failing["error"]


def test_filters_by_phase_and_task(console_server: Any) -> None:
    _, doc = get_json(console_server.url + "/api/runs?phase=FAILED")
    assert [r["name"] for r in doc["runs"]] == [console_server.names["failing"]]
    _, doc = get_json(console_server.url + "/api/runs?phase=succeeded,failed")
    assert len(doc["runs"]) == 3
    _, doc = get_json(console_server.url + "/api/runs?task=FANOUT")
    assert [r["name"] for r in doc["runs"]] == [console_server.names["fanout"]]
    _, doc = get_json(console_server.url + "/api/runs?limit=1")
    assert len(doc["runs"]) == 1
    status, doc = get_json(console_server.url + "/api/runs?limit=zero")
    assert status == 400 and "limit" in doc["error"]


def test_run_page_tree_map_groups_and_io(console_server: Any) -> None:
    status, doc = get_json(f"{console_server.url}/api/runs/{console_server.names['fanout']}")
    assert status == 200
    run, actions = doc["run"], {a["name"]: a for a in doc["actions"]}
    assert run["inputs"] == [{"name": "n", "type": "int", "value": "4", "uri": None}]
    assert run["outputs"][0]["type"] == "list[int]" and run["outputs"][0]["value"] == "[0, 1, 4, 9, 23]"
    assert actions["a0"]["parent"] is None
    squares = [a for a in actions.values() if a["task"] == "console_samples.square"]
    assert sorted(a["map"]["index"] for a in squares) == [0, 1, 2, 3]
    assert {a["map"]["of"] for a in squares} == {"square_map"}
    middle = next(a for a in actions.values() if a["task"] == "console_samples.middle")
    assert middle["group"] == "extras" and middle["map"] is None and middle["parent"] == "a0"
    leaves = [a for a in actions.values() if a["task"] == "console_samples.leaf"]
    assert len(leaves) == 2 and {a["parent"] for a in leaves} == {middle["name"]}
    for a in actions.values():
        assert a["attempts"] == [{"n": 1, "phase": "SUCCEEDED", "start": a["start"], "end": a["end"]}]
        assert a["start"] <= a["end"]


def test_failed_action_has_error_and_traceback(console_server: Any) -> None:
    name = console_server.names["failing"]
    _, doc = get_json(f"{console_server.url}/api/runs/{name}")
    failed = next(a for a in doc["actions"] if a["task"] == "console_samples.explode")
    assert failed["phase"] == "FAILED"
    status, detail = get_json(f"{console_server.url}/api/runs/{name}/actions/{failed['name']}")
    assert status == 200
    assert detail["error"]["kind"] == "ValueError"
    assert "it broke <script>" in detail["error"]["message"]
    assert "raise ValueError(message)" in detail["error"]["traceback"]
    assert detail["inputs"][0]["name"] == "message" and detail["outputs"] is None
    assert detail["has_report"] is False and detail["has_logs"] is False


def test_retried_action_lists_its_attempts(console_server: Any) -> None:
    name = console_server.names["retried"]
    _, doc = get_json(f"{console_server.url}/api/runs/{name}")
    flaky = next(a for a in doc["actions"] if a["task"] == "console_samples.flaky")
    first, second = flaky["attempts"]
    assert (first["n"], first["phase"], second["n"], second["phase"]) == (1, "FAILED", 2, "SUCCEEDED")
    # every attempt has its own times, in order, within the action's span
    assert flaky["start"] == first["start"] <= first["end"] <= second["start"] <= second["end"] == flaky["end"]
    _, detail = get_json(f"{console_server.url}/api/runs/{name}/actions/{flaky['name']}")
    assert detail["attempts"] == flaky["attempts"]


def test_report_is_sandboxed(console_server: Any) -> None:
    name = console_server.names["fanout"]
    _, doc = get_json(f"{console_server.url}/api/runs/{name}")
    rep = next(a for a in doc["actions"] if a["task"] == "console_samples.reporting")
    _, detail = get_json(f"{console_server.url}/api/runs/{name}/actions/{rep['name']}")
    assert detail["has_report"] is True
    status, headers, body = get(f"{console_server.url}/api/runs/{name}/actions/{rep['name']}/report")
    assert status == 200
    assert headers["content-security-policy"] == "sandbox allow-scripts"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-type"].startswith("text/html")
    assert b"<h1 id='r'>Report <of> fanout & co</h1>" in body  # the report is the user's HTML, as written
    status, _, _ = get(f"{console_server.url}/api/runs/{name}/actions/a0/report")
    assert status == 404


def test_json_is_escaped(console_server: Any) -> None:
    status, headers, body = get(f"{console_server.url}/api/runs?phase=FAILED")
    assert status == 200 and headers["content-type"] == "application/json; charset=utf-8"
    assert headers["x-content-type-options"] == "nosniff"
    assert b"<script>" not in body and b"\\u003cscript\\u003e" in body
    assert "<script>" in json.loads(body)["runs"][0]["error"]  # the data itself is intact


@pytest.mark.parametrize("path", [
    "/api/runs/nope", "/api/runs/nope/actions/a0", "/api/runs/{fanout}/actions/a999",
    "/api/runs/{fanout}/actions/a0/nothing", "/api/nothing", "/nothing", "/static/nothing.js",
    "/runs/{fanout}/extra/path/x",
])
def test_unknown_things_are_404(console_server: Any, path: str) -> None:
    status, headers, body = get(console_server.url + path.format(fanout=console_server.names["fanout"]))
    assert status == 404
    assert "error" in json.loads(body)


def test_local_logs_and_abort_are_refused(console_server: Any) -> None:
    name = console_server.names["fanout"]
    status, doc = get_json(f"{console_server.url}/api/runs/{name}/actions/a0/logs")
    assert status == 404 and "no logs" in doc["error"]
    status, doc = get_json(f"{console_server.url}/api/runs/{name}/abort", method="POST")
    assert status == 403 and "Ctrl-C" in doc["error"]
    status, doc = get_json(f"{console_server.url}/api/runs/{name}/abort")
    assert status == 405


def test_pages_serve_index_html_with_a_policy(console_server: Any) -> None:
    name = console_server.names["fanout"]
    for path in ("/", f"/runs/{name}", f"/runs/{name}/actions/a1"):
        status, headers, body = get(console_server.url + path)
        assert status == 200, path
        assert headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in headers["content-security-policy"]
        assert b"<!doctype html>" in body.lower()


def test_action_detail_knows_its_map_index(console_server: Any) -> None:
    name = console_server.names["fanout"]
    _, doc = get_json(f"{console_server.url}/api/runs/{name}")
    squares = [a for a in doc["actions"] if a["task"] == "console_samples.square"]
    for a in squares:
        _, detail = get_json(f"{console_server.url}/api/runs/{name}/actions/{a['name']}")
        assert detail["map"] == a["map"]
        assert detail["inputs"] == [{"name": "x", "type": "int", "value": str(a["map"]["index"]), "uri": None}]
        assert detail["outputs"] == [{"name": "o0", "type": "int", "value": str(a["map"]["index"] ** 2), "uri": None}]


def test_split_traceback() -> None:
    from flyte.console.store import split_traceback

    tb = 'Traceback (most recent call last):\n  File "x.py", line 1, in f\nValueError: no\n'
    assert split_traceback(f"ValueError: no\n\n{tb}") == ("ValueError: no", tb.rstrip())
    assert split_traceback(tb) == ("ValueError: no", tb.rstrip())  # no headline: the traceback's last line
    assert split_traceback("says Traceback (most recent call last): inline") == (
        "says Traceback (most recent call last): inline", None)
    assert split_traceback("  plain  ") == ("plain", None)


def test_json_answers_escape_markup() -> None:
    """A 10,000-action run is ~3 MB of JSON, escaped so that no `<`, `>`, `&` or line separator reaches a browser
    that might sniff it as HTML. (Its cost is measured by benchmarks/console/bench_run_page.py, not timed here:
    escaping with str.translate had taken 3-5 times as long as json.dumps itself.)"""
    from flyte.console.api import json_bytes

    doc = {"actions": [{"name": f"a{i}", "task": "env.t<&>", "error": "x\u2028y\u2029 </script>", "start": 1.5 * i,
                        "attempts": [{"n": 1, "phase": "SUCCEEDED"}], "map": {"of": "t_map", "index": i}}
                       for i in range(20_000)]}
    out = json_bytes(doc)
    assert json.loads(out) == doc
    text = out.decode()
    assert not any(c in text for c in "<>&\u2028\u2029") and "\\u003c" in text and "\\u2028" in text
