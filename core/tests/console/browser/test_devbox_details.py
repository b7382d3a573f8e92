"""The selected action's logs and report on a real devbox, in headless Chromium: the live tail follows the end and
shows ANSI colours as colours; a report shows on a devbox started with --auth, still sandboxed."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.slow

# prints 400 coloured lines, 20 a second (a live tail to follow), then ends
PRINTER = r"""
import time
for i in range(400):
    print(f"\x1b[31mline {i} red\x1b[0m plain <b>x</b>", flush=True)
    time.sleep(0.05)
"""
# writes a report whose own script runs, then ends
REPORTER = r"""
import sys, pathlib
prefix = pathlib.Path(sys.argv[1]); prefix.mkdir(parents=True, exist_ok=True)
(prefix / "report.html").write_text(
    "<h1 id=r>Report <i>of</i> the run</h1><script>document.title = 'report ran';"
    "document.getElementById('r').dataset.ran = '1'</script>")
"""


def expect(x: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(x)


def create(endpoint: str, code: str, name: str, token: str | None = None) -> Any:
    import grpc
    from flyte_devbox.testing import project_id, py_spec
    from flyteidl2.task import common_pb2
    from flyteidl2.workflow import run_service_pb2 as rs
    from flyteidl2.workflow import run_service_pb2_grpc as rsg

    if token:
        ch = grpc.secure_channel(endpoint, grpc.composite_channel_credentials(
            grpc.local_channel_credentials(), grpc.access_token_call_credentials(token)))
    else:
        ch = grpc.insecure_channel(endpoint)
    try:
        stub = rsg.RunServiceStub(ch)
        run = stub.CreateRun(rs.CreateRunRequest(project_id=project_id(), task_spec=py_spec(code, name=name),
                                                 inputs=common_pb2.Inputs()))
        return run.run.action.id.run.name
    finally:
        ch.close()


def token_of(box: Any) -> str:
    data = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": box.client_id,
                                   "client_secret": box.client_secret}).encode()
    with urllib.request.urlopen(urllib.request.Request(box.url + "/oauth2/token", data=data), timeout=10) as r:
        token: str = json.loads(r.read())["access_token"]
    return token


@pytest.fixture
def devbox(tmp_path: Any) -> Iterator[Any]:
    from flyte_devbox.testing import DevboxProcess

    with DevboxProcess(tmp_path / "devbox", concurrency=2) as box:
        yield box


def at_end(page: Any) -> dict[str, float]:
    return page.evaluate("() => { const p = document.querySelector('.details .logs pre');"
                         " return {top: p.scrollTop, client: p.clientHeight, height: p.scrollHeight}; }")


def test_live_log_follows_its_end_and_shows_colours(devbox, page):
    run = create(devbox.endpoint, PRINTER, "printer")
    page.goto(f"{devbox.url}/runs/{run}/actions/a0")
    logs = page.locator(".details .logs pre")
    expect(logs).to_contain_text("line 30 red", timeout=30_000)
    expect(page.locator(".details .logs [role=status]")).to_contain_text("Live")
    # while it grows, the view stays at the end (the page polls the run meanwhile)
    for n in (60, 90):
        expect(logs).to_contain_text(f"line {n} red", timeout=15_000)
        page.wait_for_timeout(300)
        pos = at_end(page)
        assert pos["height"] > pos["client"] + 50, pos
        assert pos["top"] + pos["client"] >= pos["height"] - 30, pos
    # ANSI colours: coloured text, never the escape codes
    text = logs.text_content()
    assert "\x1b" not in text and "[31m" not in text and "[0m" not in text
    expect(logs.locator("span.ansi-fg1").first).to_have_text("line 0 red")
    assert logs.locator("b").count() == 0  # and the log's "<b>" stays text
    # scrolled up by the reader: it stays where they put it; back at the end, it follows again
    page.evaluate("document.querySelector('.details .logs pre').scrollTop = 0")
    expect(logs).to_contain_text("line 130 red", timeout=15_000)
    assert at_end(page)["top"] == 0
    page.evaluate("() => { const p = document.querySelector('.details .logs pre'); p.scrollTop = p.scrollHeight; }")
    expect(logs).to_contain_text("line 160 red", timeout=15_000)
    page.wait_for_timeout(300)
    pos = at_end(page)
    assert pos["top"] + pos["client"] >= pos["height"] - 30, pos


def test_report_shows_on_a_devbox_with_auth_and_stays_sandboxed(page, tmp_path):
    from flyte_devbox.testing import DevboxProcess

    with DevboxProcess(tmp_path / "devbox", auth=True, concurrency=2) as box:
        token = token_of(box)
        run = create(box.endpoint, REPORTER, "reporter", token=token)
        # the token as the dialog would have kept it (the console page only: the report frame may not touch storage)
        page.add_init_script(f"if (window === window.top) sessionStorage.setItem('flyte-console-token', "
                             f"{json.dumps(token)})")
        page.goto(f"{box.url}/runs/{run}/actions/a0")
        expect(page.locator(".details .dhead .phase")).to_have_text("SUCCEEDED", timeout=30_000)
        frame_el = page.locator(".details .report iframe")
        expect(frame_el).to_have_attribute("sandbox", "allow-scripts")
        frame = page.frame_locator(".details .report iframe")
        # the report's HTML, its own script run
        expect(frame.locator("#r")).to_have_text("Report of the run")
        expect(frame.locator("#r")).to_have_attribute("data-ran", "1")
        inner = next(f for f in page.frames if f is not page.main_frame)
        # in an opaque origin: no way to the console page, its storage (the token) or its API as the page
        assert inner.evaluate("window.origin") == "null"
        assert inner.evaluate("() => { try { return parent.document.title } catch (e) { return 'blocked' } }") == \
            "blocked"
        assert inner.evaluate("() => { try { return String(sessionStorage.length) } catch (e) { return 'blocked' } }") \
            == "blocked"
        assert page.title().endswith("Flyte console")
        # a new tab could not carry the token: no such link here
        expect(page.locator(".details .report h3 a")).to_have_count(0)
        # it printed nothing: no empty log box, a sentence
        expect(page.locator(".details .logs [role=status]")).to_have_text("No log output.")
        expect(page.locator(".details .logs pre")).to_be_hidden()
