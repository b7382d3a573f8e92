"""The web console on a real devbox's port: its JSON API over the devbox's runs, logs, abort, and --auth."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import grpc
import pytest
from flyte_devbox.testing import DevboxProcess, project_id, py_spec, wait_phase
from flyteidl2.common import phase_pb2
from flyteidl2.task import common_pb2
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import run_service_pb2_grpc as rsg

PROJECT = project_id()
DONE = {phase_pb2.ACTION_PHASE_SUCCEEDED, phase_pb2.ACTION_PHASE_FAILED, phase_pb2.ACTION_PHASE_ABORTED,
        phase_pb2.ACTION_PHASE_TIMED_OUT}

DOUBLE = """
import sys, pathlib
from flyteidl2.task import common_pb2
prefix = pathlib.Path(sys.argv[1]); prefix.mkdir(parents=True, exist_ok=True)
inputs = common_pb2.Inputs.FromString(pathlib.Path(sys.argv[2]).read_bytes())
x = inputs.literals[0].value.scalar.primitive.integer
out = common_pb2.Outputs()
lit = out.literals.add(name="o0"); lit.value.scalar.primitive.integer = x * 2
(prefix / "outputs.pb").write_bytes(out.SerializeToString())
(prefix / "report.html").write_text("<p id=rep>report of <b>x</b></p>")
print("doubling <x>", x, flush=True)
"""
# what our worker writes for a task that raised: the headline, a blank line, the traceback (flyte.remote.io)
RAISED = """
import sys, pathlib
from flyteidl2.core import execution_pb2
prefix = pathlib.Path(sys.argv[1]); prefix.mkdir(parents=True, exist_ok=True)
tb = ('Traceback (most recent call last):\\n  File "t.py", line 3, in body\\n    raise ValueError(x)\\n'
      'ValueError: bad <x>\\n')
doc = execution_pb2.ErrorDocument(error=execution_pb2.ContainerError(
    code="ValueError", message="ValueError: bad <x>\\n\\n" + tb, kind=execution_pb2.ContainerError.NON_RECOVERABLE,
    origin=execution_pb2.ExecutionError.USER))
(prefix / "error.pb").write_bytes(doc.SerializeToString())
"""
SLEEP = "import time; print('sleeping', flush=True); time.sleep(120)"
FAIL = "import sys; print('about to fail', file=sys.stderr); raise SystemExit(3)"


def call(url: str, method: str = "GET", token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(url, method=method, headers=headers, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def api(url: str, method: str = "GET", token: str | None = None) -> tuple[int, Any]:
    status, _, body = call(url, method, token)
    return status, json.loads(body)


def create(channel: grpc.Channel, code: str, x: int | None = None, **kw: Any) -> Any:
    stub = rsg.RunServiceStub(channel)
    inputs = common_pb2.Inputs()
    if x is not None:
        inputs.literals.add(name="x").value.scalar.primitive.integer = x
    run = stub.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec(code, **kw), inputs=inputs))
    return stub, run.run.action.id


def test_devbox_serves_the_console_over_its_runs(devbox: DevboxProcess, channel: grpc.Channel) -> None:
    stub, aid = create(channel, DOUBLE, x=21, outputs=True, name="doubler")
    assert wait_phase(stub, aid.run, DONE).action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED
    status, info = api(devbox.url + "/api/info")
    assert status == 200 and info["source"] == "devbox" and info["can_abort"] is True and info["auth"] is False
    status, doc = api(devbox.url + "/api/runs?task=doubler")
    assert status == 200
    run = next(r for r in doc["runs"] if r["name"] == aid.run.name)
    assert run["phase"] == "SUCCEEDED" and run["task"] == "doubler" and run["actions"]["total"] == 1
    status, doc = api(f"{devbox.url}/api/runs/{aid.run.name}")
    assert status == 200
    assert doc["run"]["inputs"] == [{"name": "x", "type": "int", "value": "21", "uri": None}]
    assert doc["run"]["outputs"] == [{"name": "o0", "type": "int", "value": "42", "uri": None}]
    (a0,) = doc["actions"]
    assert a0["name"] == "a0" and a0["attempts"][0]["n"] == 1 and a0["attempts"][0]["phase"] == "SUCCEEDED"
    status, detail = api(f"{devbox.url}/api/runs/{aid.run.name}/actions/a0")
    assert status == 200 and detail["has_logs"] is True and detail["has_report"] is True and detail["error"] is None
    status, logs = api(f"{devbox.url}/api/runs/{aid.run.name}/actions/a0/logs")
    assert status == 200 and "doubling <x> 21" in logs["text"]
    status, again = api(f"{devbox.url}/api/runs/{aid.run.name}/actions/a0/logs?offset={logs['offset']}")
    assert again["text"] == "" and again["done"] is True
    # both read positions in a string: packed into one JSON number they passed 2**53 (and lost digits in the
    # browser) once stdout was over 2 MiB
    attempt, out_pos, err_pos = logs["offset"].split(".")
    assert attempt == "1" and int(out_pos) >= len("doubling <x> 21") and int(err_pos) >= 0
    for bad in ("abc", "1.2.3.4", "-5", "9" * 61):
        assert call(f"{devbox.url}/api/runs/{aid.run.name}/actions/a0/logs?offset={bad}")[0] == 400, bad
    status, headers, body = call(f"{devbox.url}/api/runs/{aid.run.name}/actions/a0/report")
    assert status == 200 and headers["content-security-policy"] == "sandbox allow-scripts"
    assert b"<p id=rep>report of <b>x</b></p>" in body
    status, headers, body = call(f"{devbox.url}/runs/{aid.run.name}")
    assert status == 200 and headers["content-type"].startswith("text/html") and b"<html" in body
    assert call(f"{devbox.url}/api/runs/nope")[0] == 404
    assert call(f"{devbox.url}/static/..%2f..%2fstore.py")[0] == 404
    assert call(f"{devbox.url}/healthz")[0] == 200  # the devbox's own routes are untouched
    # a page of another site resolving to 127.0.0.1 (DNS rebinding) sends its own Host: refused
    req = urllib.request.Request(f"{devbox.url}/api/runs", headers={"Host": "evil.example.com"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=20)
    assert refused.value.code == 403


def test_failed_action_shows_its_error_and_since_cursor(devbox: DevboxProcess, channel: grpc.Channel) -> None:
    stub, aid = create(channel, FAIL, name="failer")
    assert wait_phase(stub, aid.run, DONE).action.status.phase == phase_pb2.ACTION_PHASE_FAILED
    _, doc = api(f"{devbox.url}/api/runs?phase=failed")
    assert aid.run.name in [r["name"] for r in doc["runs"]]
    assert all(r["phase"] == "FAILED" for r in doc["runs"])
    _, detail = api(f"{devbox.url}/api/runs/{aid.run.name}/actions/a0")
    assert detail["phase"] == "FAILED" and detail["error"]["message"]
    _, logs = api(f"{devbox.url}/api/runs/{aid.run.name}/actions/a0/logs")
    assert "about to fail" in logs["text"]
    time.sleep(2.5)  # the run ended more than the cursor's slack (2 s) ago
    _, first = api(f"{devbox.url}/api/runs/{aid.run.name}")
    assert [a["name"] for a in first["actions"]] == ["a0"]
    _, later = api(f"{devbox.url}/api/runs/{aid.run.name}?since={urllib.parse.quote(first['cursor'])}")
    assert later["actions"] == [] and later["run"]["phase"] == "FAILED"
    status, bad = api(f"{devbox.url}/api/runs?since=garbage")
    assert status == 400 and "cursor" in bad["error"]


def test_an_error_with_a_traceback_is_split_into_its_message_and_traceback(devbox: DevboxProcess,
                                                                            channel: grpc.Channel) -> None:
    """The message is the headline (lists show it on one line), the traceback comes once, apart."""
    stub, aid = create(channel, RAISED, name="raiser")
    assert wait_phase(stub, aid.run, DONE).action.status.phase == phase_pb2.ACTION_PHASE_FAILED
    _, detail = api(f"{devbox.url}/api/runs/{aid.run.name}/actions/a0")
    assert detail["error"] == {"kind": "ValueError", "message": "ValueError: bad <x>",
                               "traceback": 'Traceback (most recent call last):\n  File "t.py", line 3, in body\n'
                                            "    raise ValueError(x)\nValueError: bad <x>"}
    _, doc = api(f"{devbox.url}/api/runs/{aid.run.name}")
    assert doc["run"]["error"] == "ValueError: bad <x>" and doc["actions"][0]["error"] == "ValueError: bad <x>"
    _, runs = api(f"{devbox.url}/api/runs?task=raiser")
    assert [r["error"] for r in runs["runs"]] == ["ValueError: bad <x>"]


def test_abort_from_the_console(devbox: DevboxProcess, channel: grpc.Channel) -> None:
    stub, aid = create(channel, SLEEP, name="sleeper")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        _, doc = api(f"{devbox.url}/api/runs/{aid.run.name}")
        if doc["run"]["phase"] == "RUNNING":
            break
        time.sleep(0.1)
    _, doc = api(f"{devbox.url}/api/runs?phase=running")
    assert aid.run.name in [r["name"] for r in doc["runs"]]
    assert api(f"{devbox.url}/api/runs/{aid.run.name}/abort")[0] == 405  # GET
    status, body = api(f"{devbox.url}/api/runs/{aid.run.name}/abort", method="POST")
    assert status == 200 and body["phase"] == "ABORTED"
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_ABORTED
    _, detail = api(f"{devbox.url}/api/runs/{aid.run.name}/actions/a0")
    assert detail["error"]["kind"] == "Aborted" and "console" in detail["error"]["message"]
    assert api(f"{devbox.url}/api/runs/nope/abort", method="POST")[0] == 404


def test_logs_are_read_in_whole_characters(devbox: DevboxProcess, channel: grpc.Channel) -> None:
    """A log is read 1 MiB at a time: a character across the cut came out as two U+FFFD and was lost."""
    code = "import sys; sys.stdout.write('a' * (1024 * 1024 - 1) + 'é€😀' + '\\n'); sys.stdout.flush()"
    stub, aid = create(channel, code, name="wide-chars")
    assert wait_phase(stub, aid.run, DONE).action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED
    text, offset = "", ""
    for _ in range(10):
        _, got = api(f"{devbox.url}/api/runs/{aid.run.name}/actions/a0/logs?offset={offset}")
        text += got["text"]
        offset = got["offset"]
        if got["done"]:
            break
    assert "\ufffd" not in text
    assert text == "a" * (1024 * 1024 - 1) + "é€😀\n"


def test_a_signed_url_printed_in_two_writes_is_scrubbed_whole(devbox: DevboxProcess, channel: grpc.Channel) -> None:
    """Logs are scrubbed chunk by chunk: a poll between two writes of one line cut a signed URL in two, the first
    half lost its query string and the second half (the signature) was shown as plain text. Lines come whole."""
    code = ("import sys, time\n"
            "sys.stdout.write('get https://b.s3.amazonaws.com/k?X-Amz-Signature='); sys.stdout.flush()\n"
            "time.sleep(1.5)\n"
            "sys.stdout.write('SECRETSIG123&X-Amz-Credential=AKIA9&x=1 done\\n'); sys.stdout.flush()\n")
    stub, aid = create(channel, code, name="signed")
    url = f"{devbox.url}/api/runs/{aid.run.name}/actions/a0/logs"
    text, offset = "", ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, got = api(f"{url}?offset={urllib.parse.quote(offset)}")
        text += got["text"]
        offset = got["offset"]
        if got["done"]:
            break
        time.sleep(0.2)
    assert "get https://b.s3.amazonaws.com/k" in text and " done" in text, text
    assert "SECRETSIG123" not in text and "AKIA9" not in text, text


def test_the_log_tail_follows_a_retry(devbox: DevboxProcess, channel: grpc.Channel, tmp_path: Any) -> None:
    """The log shown is the last attempt's: an offset into attempt 1's files was applied to attempt 2's (seeking past
    what it printed: nothing new came), and the end of attempt 1 answered `done` while a retry was to come."""
    marker = tmp_path / "tried"
    code = (f"import pathlib, sys, time\nm = pathlib.Path({str(marker)!r})\n"
            "if not m.exists():\n    m.write_text('1'); print('A' * 200, flush=True); time.sleep(1.0); sys.exit(3)\n"
            "time.sleep(0.5); print('second attempt', flush=True); time.sleep(1.5)\n")
    stub, aid = create(channel, code, name="retrier", retries=1)
    url = f"{devbox.url}/api/runs/{aid.run.name}/actions/a0/logs"
    text, offset, done_early = "", "", False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, got = api(f"{url}?offset={urllib.parse.quote(offset)}")
        text += got["text"]
        offset = got["offset"]
        _, run = api(f"{devbox.url}/api/runs/{aid.run.name}")
        if got["done"]:
            done_early = run["run"]["phase"] not in ("SUCCEEDED", "FAILED")
            break
        time.sleep(0.2)
    assert "A" * 200 in text, text
    assert not done_early  # the end of attempt 1 is not the end of the log
    assert "second attempt" in text, text
    assert text.index("second attempt") > text.index("A" * 200)
    assert "attempt 2" in text  # where the retry's log starts


def test_map_items_are_numbered_in_the_order_they_were_made(devbox: DevboxProcess, channel: grpc.Channel) -> None:
    """Child names are hashes: ordered by name, a map's items were numbered at random (item #0 was square(2)). They
    are numbered in the order they reached the devbox (an SDK sends them concurrently: the closest to the map's
    order the devbox can know)."""
    import os

    from flyteidl2.actions import actions_service_pb2 as asp
    from flyteidl2.actions import actions_service_pb2_grpc as asg

    stub, parent = create(channel, SLEEP, name="mapper")
    actions = asg.ActionsServiceStub(channel)
    made = ["az", "ab", "am", "aa"]
    for name in made:  # names that sort otherwise than they were made
        a = asp.Action(parent_action_name=parent.name, input_uri=os.devnull, group="square_map")
        a.action_id.run.CopyFrom(parent.run)
        a.action_id.name = name
        a.task.spec.CopyFrom(py_spec("pass", name="square"))
        actions.Enqueue(asp.EnqueueRequest(action=a))
        time.sleep(0.01)
    try:
        _, doc = api(f"{devbox.url}/api/runs/{parent.run.name}")
        items = {a["name"]: a["map"] for a in doc["actions"] if a["name"] != "a0"}
        assert items == {n: {"of": "square_map", "index": i} for i, n in enumerate(made)}
        assert [a["name"] for a in doc["actions"]] == ["a0", *made]
        _, detail = api(f"{devbox.url}/api/runs/{parent.run.name}/actions/ab")
        assert detail["map"] == {"of": "square_map", "index": 1}
    finally:
        api(f"{devbox.url}/api/runs/{parent.run.name}/abort", method="POST")


def test_the_answer_after_a_run_ended_has_every_action_again(tmp_path: Any) -> None:
    """An action's end is stamped when it ends but committed with its run's last changes (an abort cascade over
    thousands of children is one transaction): a commit later than the cursor's slack was never sent, and the page,
    which stops asking once the run has ended, kept the action RUNNING. Now the first answer after the run ended
    carries every action (as the local store does)."""
    import sqlite3

    with DevboxProcess(tmp_path / "box") as box:
        ch = grpc.insecure_channel(box.endpoint)
        try:
            stub, aid = create(ch, SLEEP, name="late-commit")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                _, first = api(f"{box.url}/api/runs/{aid.run.name}")
                if first["run"]["phase"] == "RUNNING":
                    break
                time.sleep(0.1)
            assert first["run"]["phase"] == "RUNNING"
            time.sleep(2.5)  # started longer ago than the cursor's slack (2 s)
            _, first = api(f"{box.url}/api/runs/{aid.run.name}")
            list_cursor = api(f"{box.url}/api/runs")[1]["cursor"]
            # the run ends now, its end stamped 10 s ago (what a long transaction commits)
            db = sqlite3.connect(box.data_dir / "state.db", timeout=10)
            with db:
                db.execute("UPDATE actions SET phase=?, end_time=? WHERE run=? AND name='a0'",
                           (phase_pb2.ACTION_PHASE_ABORTED, time.time() - 10, aid.run.name))
            db.close()
            _, later = api(f"{box.url}/api/runs/{aid.run.name}?since={urllib.parse.quote(first['cursor'])}")
            assert later["run"]["phase"] == "ABORTED"
            assert [(a["name"], a["phase"]) for a in later["actions"]] == [("a0", "ABORTED")]
            _, again = api(f"{box.url}/api/runs/{aid.run.name}?since={urllib.parse.quote(later['cursor'])}")
            assert again["actions"] == []  # it had ended at that cursor: nothing new
            # the runs list too: a run whose end was committed late still reaches a live list
            _, listed = api(f"{box.url}/api/runs?since={urllib.parse.quote(list_cursor)}")
            assert [(r["name"], r["phase"]) for r in listed["runs"]] == [(aid.run.name, "ABORTED")]
        finally:
            ch.close()


def _token(box: DevboxProcess) -> str:
    data = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": box.client_id,
                                   "client_secret": box.client_secret}).encode()
    with urllib.request.urlopen(urllib.request.Request(box.url + "/oauth2/token", data=data), timeout=10) as r:
        token: str = json.loads(r.read())["access_token"]
    return token


def test_auth_guards_reads_and_abort(tmp_path: Any) -> None:
    with DevboxProcess(tmp_path / "box", auth=True) as box:
        token = _token(box)
        status, info = api(box.url + "/api/info")
        assert status == 200 and info["auth"] is True
        status, headers, body = call(box.url + "/api/runs")
        assert status == 401 and "bearer token" in json.loads(body)["error"]
        assert headers["www-authenticate"].startswith("Bearer")
        assert call(box.url + "/api/runs", token="dbx1.0.bad")[0] == 401
        assert call(box.url + "/")[0] == 200  # the page itself is not secret
        status, doc = api(box.url + "/api/runs", token=token)
        assert status == 200 and doc["runs"] == []
        creds = grpc.access_token_call_credentials(token)
        ch = grpc.secure_channel(box.endpoint, grpc.composite_channel_credentials(
            grpc.local_channel_credentials(), creds))
        try:
            stub, aid = create(ch, SLEEP, name="guarded")
            assert call(f"{box.url}/api/runs/{aid.run.name}/abort", method="POST")[0] == 401
            assert call(f"{box.url}/api/runs/{aid.run.name}/abort", method="POST", token="dbx1.1.x")[0] == 401
            status, body = api(f"{box.url}/api/runs/{aid.run.name}/abort", method="POST", token=token)
            assert status == 200 and body["phase"] == "ABORTED"
        finally:
            ch.close()


def test_official_run_urls_redirect_and_the_timeline_of_a_devbox_run(devbox: DevboxProcess, channel: grpc.Channel,
                                                                      tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    stub, aid = create(channel, FAIL, name="timed", retries=1)
    assert wait_phase(stub, aid.run, DONE).action.status.phase == phase_pb2.ACTION_PHASE_FAILED
    # what `flyte run` prints for a remote run is the official console's URL form: it leads to this console's page
    status, headers, _ = call_no_redirect(f"{devbox.url}/v2/runs/project/{PROJECT.name}/domain/{PROJECT.domain}/"
                                          f"{aid.run.name}")
    assert status == 302 and headers["location"] == f"/runs/{aid.run.name}"
    _, detail = api(f"{devbox.url}/api/runs/{aid.run.name}/actions/a0")
    assert [t["n"] for t in detail["attempts"]] == [1, 2] and all(t["start"] for t in detail["attempts"])
    out = tmp_path / "t.svg"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_")}
    env["HOME"] = str(tmp_path)
    flyte = str(Path(sys.executable).with_name("flyte"))
    r = subprocess.run([flyte, "--endpoint", devbox.endpoint, "--insecure", "--project", PROJECT.name, "--domain",
                        PROJECT.domain, "get", "run", aid.run.name, "--timeline", str(out)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    svg = out.read_text()
    assert svg.count('class="bar"') == 1 and 'data-phase="FAILED"' in svg and "timed #2/2" in svg


def call_no_redirect(url: str) -> tuple[int, dict[str, str], bytes]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


@pytest.mark.slow
def test_flyte_run_on_the_devbox_links_to_its_console_page(tmp_path: Any) -> None:
    """`flyte run` of this SDK against a devbox: the printed link leads to the run's page; its API shows the tree
    (map items, a group's nested children), inputs/outputs and the report written by the worker."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    bin_dir = os.path.dirname(sys.executable)
    tasks = Path(__file__).resolve().parents[4] / "core" / "tests" / "console" / "sample_tasks.py"
    with DevboxProcess(tmp_path / "box", worker_paths=(bin_dir,), concurrency=4) as box:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_")}
        env.update(HOME=str(tmp_path), FLYTE_CONFIG="")
        r = subprocess.run([os.path.join(bin_dir, "flyte"), "--endpoint", box.endpoint, "--insecure", "run",
                            str(tasks), "fanout", "--n", "2"], capture_output=True, text=True, timeout=300, env=env,
                           cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        link = re.search(r"submitted: (http://\S+)", r.stderr)
        assert link, r.stderr
        status, headers, _ = call_no_redirect(link.group(1))
        assert status == 302
        page = box.url + headers["location"]
        status, _, body = call(page)
        assert status == 200 and b"<html" in body
        name = headers["location"].rsplit("/", 1)[1]
        _, doc = api(f"{box.url}/api/runs/{name}")
        assert doc["run"]["phase"] == "SUCCEEDED"
        assert doc["run"]["outputs"][0]["value"] == "[0, 1, 23]"
        by_task: dict[str, list[dict[str, Any]]] = {}
        for a in doc["actions"]:
            by_task.setdefault(a["task"].rsplit(".", 1)[-1], []).append(a)
        assert sorted(a["map"]["index"] for a in by_task["square"]) == [0, 1]
        (middle,) = by_task["middle"]
        assert middle["group"] == "extras" and {a["parent"] for a in by_task["leaf"]} == {middle["name"]}
        (rep,) = by_task["reporting"]
        _, detail = api(f"{box.url}/api/runs/{name}/actions/{rep['name']}")
        assert detail["has_report"] is True
        status, headers, body = call(f"{box.url}/api/runs/{name}/actions/{rep['name']}/report")
        assert status == 200 and b"Report <of> fanout & co" in body
        assert headers["content-security-policy"] == "sandbox allow-scripts"
        # its timeline from the control plane folds the map as the page does
        out = tmp_path / "fan.svg"
        r = subprocess.run([os.path.join(bin_dir, "flyte"), "--endpoint", box.endpoint, "--insecure", "--project",
                            "flytesnacks", "--domain", "development", "get", "run", name,
                            "--timeline", str(out)], capture_output=True, text=True, timeout=120, env=env,
                           cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "map square_map · 2 items" in out.read_text() and out.read_text().count('class="bar"') == 7


def test_inputs_and_outputs_are_read_once_per_action_not_at_every_poll() -> None:
    """The page asks for a live run (its root's inputs) every second: with data in a bucket that was a GET or two per
    second per open page. Inputs never change, outputs once the action has ended: they are read once."""
    import asyncio
    import threading
    import types

    from flyte_devbox.console import DevboxRunStore
    from flyte_devbox.store import RunKey

    inputs = common_pb2.Inputs()
    inputs.literals.add(name="x").value.scalar.primitive.integer = 7
    outputs = common_pb2.Outputs()
    outputs.literals.add(name="o0").value.scalar.primitive.integer = 49
    files = {"mem://in/inputs.pb": inputs.SerializeToString(), "mem://out/outputs.pb": outputs.SerializeToString()}
    reads: list[str] = []

    class Data:
        async def exists(self, uri: str) -> bool:
            return uri in files

        async def read(self, uri: str) -> bytes:
            reads.append(uri)
            return files[uri]

        def join(self, *parts: str) -> str:
            return "/".join(parts)

    row = types.SimpleNamespace(input_uri="mem://in/inputs.pb", output_uri="mem://out",
                                phase=phase_pb2.ACTION_PHASE_RUNNING)
    box = types.SimpleNamespace(url="x", settings=types.SimpleNamespace(state_db="/nonexistent.db"), data=Data(),
                                store=types.SimpleNamespace(get_action=lambda key, action: row))
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    try:
        store = DevboxRunStore(box, loop)  # type: ignore[arg-type]
        key = RunKey("o", "p", "d", "r")
        for _ in range(5):  # running: inputs once, no outputs yet
            ins, outs = store._io(key, "a0")
            assert ins == [{"name": "x", "type": "int", "value": "7", "uri": None}] and outs is None
        assert reads == ["mem://in/inputs.pb"]
        row.phase = phase_pb2.ACTION_PHASE_SUCCEEDED
        for _ in range(5):  # ended: its outputs once more, then nothing
            ins, outs = store._io(key, "a0")
            assert outs == [{"name": "o0", "type": "int", "value": "49", "uri": None}]
        assert reads == ["mem://in/inputs.pb", "mem://in/inputs.pb", "mem://out/outputs.pb"]
    finally:
        loop.call_soon_threadsafe(loop.stop)
