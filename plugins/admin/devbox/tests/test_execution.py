"""Actions as subprocesses: placeholders and env, outcome files, retries, timeouts, abort, logs, secrets."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import grpc
from flyte_devbox.testing import project_id, py_spec, wait_phase
from flyteidl2.common import phase_pb2
from flyteidl2.core import security_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2 as dpp
from flyteidl2.dataproxy import dataproxy_service_pb2_grpc as dpg
from flyteidl2.secret import definition_pb2 as secd
from flyteidl2.secret import payload_pb2 as secp
from flyteidl2.secret import secret_pb2_grpc as secg
from flyteidl2.task import common_pb2
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import run_service_pb2_grpc as rsg

PROJECT = project_id()
DONE = {
    phase_pb2.ACTION_PHASE_SUCCEEDED,
    phase_pb2.ACTION_PHASE_FAILED,
    phase_pb2.ACTION_PHASE_ABORTED,
    phase_pb2.ACTION_PHASE_TIMED_OUT,
}


def start(channel, spec, **kw) -> tuple[rsg.RunServiceStub, object]:
    stub = rsg.RunServiceStub(channel)
    run = stub.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=spec, **kw))
    return stub, run.run.action.id


WRITE_OUTPUTS = """
import sys, pathlib
from flyteidl2.task import common_pb2
prefix = pathlib.Path(sys.argv[1]); prefix.mkdir(parents=True, exist_ok=True)
inputs = common_pb2.Inputs.FromString(pathlib.Path(sys.argv[2]).read_bytes())
x = inputs.literals[0].value.scalar.primitive.integer
out = common_pb2.Outputs()
lit = out.literals.add(name="o0"); lit.value.scalar.primitive.integer = x * 2
(prefix / "outputs.pb").write_bytes(out.SerializeToString())
print("doubled", x)
"""


def test_inputs_in_outputs_out_and_logs_kept(channel):
    inputs = common_pb2.Inputs()
    lit = inputs.literals.add(name="x")
    lit.value.scalar.primitive.integer = 21
    stub, aid = start(channel, py_spec(WRITE_OUTPUTS, outputs=True), inputs=inputs)
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED, d.action
    data = stub.GetActionData(rs.GetActionDataRequest(action_id=aid))
    assert data.inputs.literals[0].value.scalar.primitive.integer == 21
    assert data.outputs.literals[0].value.scalar.primitive.integer == 42
    uris = stub.GetActionDataURIs(rs.GetActionDataURIsRequest(action_id=aid))
    assert uris.outputs_uri.endswith("/a0/1/outputs.pb") and Path(uris.outputs_uri).exists()
    logs = list(dpg.DataProxyServiceStub(channel).TailLogs(dpp.TailLogsRequest(action_id=aid), timeout=20))
    assert "doubled 21" in [line.message for r in logs for chunk in r.logs for line in chunk.lines]


ENV_DUMP = """
import sys, os, json, pathlib
prefix = pathlib.Path(sys.argv[1]); prefix.mkdir(parents=True, exist_ok=True)
keep = ["ACTION_NAME", "RUN_NAME", "_U_RUN_BASE", "_U_ORG_NAME", "FLYTE_INTERNAL_EXECUTION_PROJECT",
        "FLYTE_INTERNAL_EXECUTION_DOMAIN", "_U_EP_OVERRIDE", "_U_INSECURE", "_U_USE_ACTIONS", "RUN_ENV", "CTR_ENV",
        "MY_TOKEN", "PATH"]
(prefix / "env.json").write_text(json.dumps({"env": {k: os.environ.get(k) for k in keep}, "argv": sys.argv,
                                            "cwd": os.getcwd()}))
"""


def test_placeholders_and_contract_env(devbox, channel):
    secg.SecretServiceStub(channel).CreateSecret(
        secp.CreateSecretRequest(
            id=secd.SecretIdentifier(name="my-token", project="flytesnacks", domain="development"),
            secret_spec=secd.SecretSpec(string_value="s3cr3t"),
        )
    )
    spec = py_spec(ENV_DUMP)
    spec.task_template.container.args.extend(
        ["{{.rawOutputDataPrefix}}", "{{.checkpointOutputPrefix}}", "{{.prevCheckpointPrefix}}", "{{.runStartTime}}"]
    )
    spec.task_template.container.env.add(key="CTR_ENV", value="from-container")
    spec.task_template.security_context.secrets.add(
        key="my-token", mount_requirement=security_pb2.Secret.MountType.ENV_VAR, env_var="MY_TOKEN"
    )
    run_spec = rs.CreateRunRequest().run_spec
    run_spec.envs.values.add(key="RUN_ENV", value="from-run")
    stub, aid = start(channel, spec, run_spec=run_spec)
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED, d.action
    prefix = Path(stub.GetActionDataURIs(rs.GetActionDataURIsRequest(action_id=aid)).outputs_uri).parent
    got = json.loads((prefix / "env.json").read_text())
    env, argv = got["env"], got["argv"]
    assert env["ACTION_NAME"] == "a0" and env["RUN_NAME"] == aid.run.name
    assert env["FLYTE_INTERNAL_EXECUTION_PROJECT"] == "flytesnacks"
    assert env["FLYTE_INTERNAL_EXECUTION_DOMAIN"] == "development"
    assert env["_U_ORG_NAME"] == "devbox" and env["_U_USE_ACTIONS"] == "1" and env["_U_INSECURE"] == "true"
    assert env["_U_EP_OVERRIDE"] == f"dns:///{devbox.endpoint}"
    assert Path(env["_U_RUN_BASE"]) == prefix.parent.parent
    assert env["RUN_ENV"] == "from-run" and env["CTR_ENV"] == "from-container" and env["MY_TOKEN"] == "s3cr3t"
    assert argv[1] == str(prefix) and Path(argv[2]).name == "inputs.pb"
    assert argv[3].endswith("/a0/1") and argv[4] == str(prefix / "_checkpoints") and argv[5] == ""
    assert argv[6].endswith("Z") and "{{" not in " ".join(argv)
    assert "s3cr3t" not in (devbox.data_dir / "devbox.log").read_text()


def test_error_pb_wins_over_outputs_and_exit_code(channel):
    code = """
import sys, pathlib
from flyteidl2.core import execution_pb2
p = pathlib.Path(sys.argv[1]); p.mkdir(parents=True, exist_ok=True)
(p / "outputs.pb").write_bytes(b"")
doc = execution_pb2.ErrorDocument()
doc.error.code = "ValueError"; doc.error.message = "user code said no"
doc.error.kind = execution_pb2.ContainerError.NON_RECOVERABLE
doc.error.origin = execution_pb2.ExecutionError.USER
(p / "error.pb").write_bytes(doc.SerializeToString())
"""
    stub, aid = start(channel, py_spec(code, retries=3))
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_FAILED
    assert d.action.error_info.message == "user code said no" and d.action.error_info.kind == 1  # KIND_USER
    assert d.action.status.attempts == 1  # non-recoverable: not retried


def test_nonzero_exit_is_a_system_error_and_is_retried_in_a_new_attempt_folder(channel):
    code = """
import os, sys, pathlib
p = pathlib.Path(sys.argv[1]); p.mkdir(parents=True, exist_ok=True)
(p / "mark").write_text(os.environ["FLYTE_ATTEMPT_NUMBER"])
if os.environ["FLYTE_ATTEMPT_NUMBER"] == "0":
    print("crashing on purpose", file=sys.stderr)
    sys.exit(3)
"""
    stub, aid = start(channel, py_spec(code, retries=2))
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED, d.action
    assert d.action.status.attempts == 2
    first, second = d.action.attempts
    assert first.error_info.kind == 2 and "exited with code 3" in first.error_info.message  # KIND_SYSTEM
    assert "crashing on purpose" in first.error_info.message
    assert first.outputs.output_uri.endswith("/1") and second.outputs.output_uri.endswith("/2")
    assert (Path(first.outputs.output_uri) / "mark").read_text() == "0"
    assert (Path(second.outputs.output_uri) / "mark").read_text() == "1"


def test_exhausted_retries_fail_with_the_system_error(channel):
    stub, aid = start(channel, py_spec("import sys; sys.exit(7)", retries=1))
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_FAILED and d.action.status.attempts == 2
    assert "exited with code 7" in d.action.error_info.message


def test_max_runtime_kills_and_times_out(channel):
    stub, aid = start(channel, py_spec("import time; time.sleep(60)", timeout_s=1))
    t = time.monotonic()
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_TIMED_OUT
    assert time.monotonic() - t < 15
    assert "max runtime" in d.action.error_info.message


def test_deadline_times_out_without_retrying(channel):
    spec = py_spec("import time; time.sleep(60)", retries=5)
    spec.task_template.metadata.timeouts.deadline.FromSeconds(1)
    stub, aid = start(channel, spec)
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_TIMED_OUT and "deadline" in d.action.error_info.message


ABORTABLE = """
import os, sys, subprocess, time, pathlib
p = pathlib.Path(sys.argv[1]); p.mkdir(parents=True, exist_ok=True)
child = subprocess.Popen(["sleep", "300"])
escaped = subprocess.Popen(["sleep", "301"], start_new_session=True)  # left the process group
(p / "pids").write_text(f"{os.getpid()} {child.pid} {escaped.pid}")
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_abort_kills_the_whole_process_tree(channel):
    stub, aid = start(channel, py_spec(ABORTABLE))
    wait_phase(stub, aid.run, {phase_pb2.ACTION_PHASE_RUNNING})
    prefix = None
    deadline = time.monotonic() + 20
    while prefix is None or not (prefix / "pids").exists():
        assert time.monotonic() < deadline
        d = stub.GetActionDetails(rs.GetActionDetailsRequest(action_id=aid)).details
        if d.attempts:
            prefix = Path(d.attempts[0].outputs.output_uri)
        time.sleep(0.05)
    pids = [int(x) for x in (prefix / "pids").read_text().split()]
    assert all(_alive(p) for p in pids)
    stub.AbortRun(rs.AbortRunRequest(run_id=aid.run, reason="test says stop"))
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_ABORTED and d.action.abort_info.reason == "test says stop"
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids):
        assert time.monotonic() < deadline, "processes survived the abort"
        time.sleep(0.05)


def test_missing_secret_fails_with_a_clear_message(channel):
    spec = py_spec("pass")
    spec.task_template.security_context.secrets.add(key="nope-secret")
    stub, aid = start(channel, spec)
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_FAILED
    assert "nope-secret" in d.action.error_info.message and "flyte create secret" in d.action.error_info.message


def test_secret_values_are_never_returned(channel):
    stub = secg.SecretServiceStub(channel)
    sid = secd.SecretIdentifier(name="hidden", project="flytesnacks", domain="development")
    stub.CreateSecret(secp.CreateSecretRequest(id=sid, secret_spec=secd.SecretSpec(string_value="v4lue")))
    got = stub.GetSecret(secp.GetSecretRequest(id=sid))
    assert b"v4lue" not in got.SerializeToString()
    listed = stub.ListSecrets(secp.ListSecretsRequest(project="flytesnacks", domain="development"))
    assert "hidden" in [s.id.name for s in listed.secrets]
    try:
        stub.CreateSecret(secp.CreateSecretRequest(id=sid, secret_spec=secd.SecretSpec(string_value="x")))
        raise AssertionError("duplicate secret accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.ALREADY_EXISTS


def test_tail_logs_follows_a_running_attempt(channel):
    code = "import sys, time; print('first', flush=True); time.sleep(3); print('second', file=sys.stderr, flush=True)"
    stub, aid = start(channel, py_spec(code))
    wait_phase(stub, aid.run, {phase_pb2.ACTION_PHASE_RUNNING} | DONE)
    got: list[tuple[float, str]] = []
    for resp in dpg.DataProxyServiceStub(channel).TailLogs(dpp.TailLogsRequest(action_id=aid), timeout=30):
        for chunk in resp.logs:
            got.extend((time.monotonic(), line.message) for line in chunk.lines)
    messages = [m for _, m in got]
    assert messages.index("first") < messages.index("second")
    t_first = next(t for t, m in got if m == "first")
    t_second = next(t for t, m in got if m == "second")
    assert t_second - t_first > 1.0  # streamed as written, not at the end
    assert wait_phase(stub, aid.run, DONE).action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED


FILE_SECRET = """
import os, sys, pathlib
p = pathlib.Path(sys.argv[1]); p.mkdir(parents=True, exist_ok=True)
secret = pathlib.Path(os.environ["FLYTE_SECRETS_DEFAULT_DIR"]) / "grp" / "file-token"
(p / "report.html").write_text("<p>" + secret.read_text() + "</p>")
"""


def test_file_secret_and_report_download_link(channel):
    secg.SecretServiceStub(channel).CreateSecret(
        secp.CreateSecretRequest(
            id=secd.SecretIdentifier(name="file-token", project="flytesnacks", domain="development"),
            secret_spec=secd.SecretSpec(string_value="from-a-file"),
        )
    )
    spec = py_spec(FILE_SECRET)
    spec.task_template.security_context.secrets.add(
        group="grp", key="file-token", mount_requirement=security_pb2.Secret.MountType.FILE
    )
    stub, aid = start(channel, spec)
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED, d.action.error_info.message
    req = dpp.CreateDownloadLinkRequest(artifact_type=dpp.ARTIFACT_TYPE_REPORT)
    req.action_attempt_id.action_id.CopyFrom(aid)
    req.action_attempt_id.attempt = 1
    link = dpg.DataProxyServiceStub(channel).CreateDownloadLink(req)
    import httpx

    r = httpx.get(link.pre_signed_urls.signed_url[0])
    assert r.status_code == 200 and r.text == "<p>from-a-file</p>"
    req.action_attempt_id.attempt = 7
    try:
        dpg.DataProxyServiceStub(channel).CreateDownloadLink(req)
        raise AssertionError("a link to a missing report was issued")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND


def test_abort_closes_the_running_attempt_and_ends_its_log_stream(channel):
    """After an abort the attempt is ABORTED with an end time, so a TailLogs that follows it ends (it hung)."""
    import threading

    code = "import time\nfor i in range(600):\n    print('tick', i, flush=True); time.sleep(0.1)"
    stub, aid = start(channel, py_spec(code))
    wait_phase(stub, aid.run, {phase_pb2.ACTION_PHASE_RUNNING})
    deadline = time.monotonic() + 20
    while not stub.GetActionDetails(rs.GetActionDetailsRequest(action_id=aid)).details.attempts:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    lines: list[str] = []
    ended = threading.Event()

    def follow() -> None:
        try:
            for resp in dpg.DataProxyServiceStub(channel).TailLogs(dpp.TailLogsRequest(action_id=aid), timeout=60):
                lines.extend(line.message for chunk in resp.logs for line in chunk.lines)
        finally:
            ended.set()

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not lines:
        assert time.monotonic() < deadline, "no log line arrived"
        time.sleep(0.05)
    stub.AbortRun(rs.AbortRunRequest(run_id=aid.run, reason="enough"))
    assert ended.wait(15), "TailLogs kept following an aborted attempt"
    d = stub.GetActionDetails(rs.GetActionDetailsRequest(action_id=aid)).details
    assert d.status.phase == phase_pb2.ACTION_PHASE_ABORTED
    assert d.attempts[-1].phase == phase_pb2.ACTION_PHASE_ABORTED and d.attempts[-1].HasField("end_time")


def test_a_run_of_an_undeployed_task_is_named_after_its_task(channel):
    """CreateRun(task_spec=...): metadata.task.id carries the task's name, as SDKs read it for listings."""
    spec = py_spec("pass", name="my_env.my_task")
    spec.task_template.id.version = "v1"
    stub, aid = start(channel, spec)
    d = wait_phase(stub, aid.run, DONE)
    assert d.action.metadata.task.id.name == "my_env.my_task" and d.action.metadata.task.id.version == "v1"
    listed = stub.ListRuns(rs.ListRunsRequest(project_id=PROJECT))
    run = next(r for r in listed.runs if r.action.id.run.name == aid.run.name)
    assert run.action.metadata.task.id.name == "my_env.my_task"


def test_unknown_project_names_the_command_that_creates_it(channel):
    from flyteidl2.common import identifier_pb2 as ids

    stub = rsg.RunServiceStub(channel)
    try:
        stub.CreateRun(rs.CreateRunRequest(project_id=ids.ProjectIdentifier(name="nope", domain="development"),
                                           task_spec=py_spec("pass")))
        raise AssertionError("a run in an unknown project was accepted")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND
        assert "flyte create project --id nope" in e.details()  # the CLI's syntax (--id is required)
