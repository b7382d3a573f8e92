"""The console a devbox serves on its own port, in headless Chromium: a real run, its live logs, and abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
FLYTE = str(Path(sys.executable).with_name("flyte"))


def expect(x: Any) -> Any:
    from playwright.sync_api import expect as pw_expect

    return pw_expect(x)


@pytest.fixture
def devbox(tmp_path: Path) -> Any:
    from flyte_devbox.testing import DevboxProcess

    bin_dir = os.path.dirname(sys.executable)
    with DevboxProcess(tmp_path / "devbox", worker_paths=(bin_dir,), concurrency=4) as box:
        yield box


def test_devbox_console_shows_a_run_its_live_logs_and_aborts_it(devbox, page, shoot, tmp_path):
    env = {**os.environ, "FLYTE_CONFIG": "", "HOME": str(tmp_path),
           "FLYTE_DISABLE_PLUGINS": "gcs,azure,s3,docker,podman,sandbox,example"}
    cmd = [FLYTE, "--endpoint", devbox.endpoint, "--insecure", "--project", "flytesnacks", "--domain", "development",
           "run", "--runtime", "remote", "--detach", "--name", "console-devbox-run", str(HERE / "devbox_tasks.py"),
           "main", "--n", "600"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr

    page.goto(devbox.url + "/")
    expect(page.locator("#source")).to_contain_text("devbox")
    row = page.locator('tr[data-run="console-devbox-run"]')
    expect(row.locator(".phase")).to_have_text("RUNNING", timeout=30_000)
    row.locator("a").click()
    ticker = page.locator(".tree .row", has_text="console_devbox.ticker")
    expect(ticker).to_have_count(1, timeout=30_000)
    ticker.click()
    # a devbox's long action name is shortened in its row (rows told apart, found in logs), whole in the details
    name = page.evaluate("() => window.flyteConsole.page.state.selected")
    assert len(name) > 8
    expect(ticker.locator(".sub")).to_contain_text(f"{name[:6]}…")
    expect(page.locator(".details .kv code").first).to_have_text(name)
    # the running action's duration in its row goes up by itself
    sub = ticker.locator(".sub")
    first = sub.text_content()
    expect(sub).not_to_have_text(first, timeout=5_000)
    logs = page.locator(".details .logs pre")
    # the log is tailed while the action runs: it grows without a reload, and stays text
    expect(logs).to_contain_text("tick 2 <b>not bold</b>", timeout=30_000)
    expect(logs).to_contain_text("tick 12 ", timeout=15_000)
    expect(page.locator(".details .logs [role=status]")).to_contain_text("Live")
    assert page.locator(".details .logs b").count() == 0
    shoot(page, "devbox-run")

    abort = page.locator("#abort")
    expect(abort).to_be_visible()
    # live updates leave the keyboard focus where it is
    abort.focus()
    page.wait_for_timeout(2500)
    assert page.evaluate("document.activeElement && document.activeElement.id") == "abort"
    page.keyboard.press("Enter")
    expect(page.locator("dialog#confirm")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog#confirm")).to_be_hidden()
    abort.click()
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("console-devbox-run")
    shoot(page, "devbox-abort")
    page.locator("#confirm-cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".runhead .phase")).to_have_text("RUNNING")
    abort.click()
    page.locator("#confirm-ok").click()
    expect(page.locator(".runhead .phase")).to_have_text("ABORTED", timeout=30_000)
    expect(page.locator("#abort")).to_have_count(0)
    expect(page.locator(".details .logs [role=status]")).not_to_contain_text("Live", timeout=15_000)


def test_devbox_with_auth_asks_once_for_a_token(page, tmp_path):
    import httpx
    from flyte_devbox.testing import DevboxProcess

    with DevboxProcess(tmp_path / "devbox", auth=True) as box:
        r = httpx.post(f"{box.url}/oauth2/token", data={"grant_type": "client_credentials"},
                       auth=(box.client_id, box.client_secret))
        token = r.json()["access_token"]
        page.goto(box.url + "/")
        dialog = page.locator("dialog#token")
        expect(dialog).to_be_visible()
        # a wrong token is refused and asked for again
        page.fill("#token-input", "not-a-token")
        page.locator("#token-ok").click()
        expect(dialog).to_be_visible()
        page.fill("#token-input", token)
        page.locator("#token-ok").click()
        expect(dialog).to_be_hidden()
        expect(page.locator(".empty")).to_contain_text("No runs yet")
        # kept for this tab: a reload asks no more
        page.reload()
        expect(page.locator(".empty")).to_contain_text("No runs yet")
        expect(dialog).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('flyte-console-token')") == token
