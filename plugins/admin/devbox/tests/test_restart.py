"""The devbox killed (SIGKILL) and restarted: state kept, running actions failed and retried, watches resume."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import grpc
import pytest
from flyte_devbox.testing import DevboxProcess, project_id, py_spec, wait_phase
from flyteidl2.actions import actions_service_pb2 as asp
from flyteidl2.actions import actions_service_pb2_grpc as asg
from flyteidl2.common import phase_pb2
from flyteidl2.workflow import run_service_pb2 as rs
from flyteidl2.workflow import run_service_pb2_grpc as rsg

PROJECT = project_id()
TERMINAL = {
    phase_pb2.ACTION_PHASE_SUCCEEDED,
    phase_pb2.ACTION_PHASE_FAILED,
    phase_pb2.ACTION_PHASE_ABORTED,
    phase_pb2.ACTION_PHASE_TIMED_OUT,
}

RESUMABLE = """
import os, sys, time, pathlib
p = pathlib.Path(sys.argv[1]); p.mkdir(parents=True, exist_ok=True)
(p / "pid").write_text(str(os.getpid()))
if os.environ["FLYTE_ATTEMPT_NUMBER"] == "0":
    time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_running_action_is_failed_as_system_error_and_retried_after_a_crash(tmp_path):
    box = DevboxProcess(tmp_path / "box").start()
    try:
        with grpc.insecure_channel(box.endpoint) as ch:
            stub = rsg.RunServiceStub(ch)
            done = stub.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec("pass")))
            wait_phase(stub, done.run.action.id.run, TERMINAL)
            aid = stub.CreateRun(rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec(RESUMABLE, retries=1)))
            aid = aid.run.action.id
            deadline = time.monotonic() + 20
            pid_file = None
            while pid_file is None or not pid_file.exists():
                assert time.monotonic() < deadline
                d = stub.GetActionDetails(rs.GetActionDetailsRequest(action_id=aid)).details
                if d.attempts:
                    pid_file = Path(d.attempts[0].outputs.output_uri) / "pid"
                time.sleep(0.05)
            first_pid = int(pid_file.read_text())
        box.kill()
        assert _alive(first_pid)  # the action outlived the devbox (its own session)
        box.start()
        with grpc.insecure_channel(box.endpoint) as ch:
            stub = rsg.RunServiceStub(ch)
            d = wait_phase(stub, aid.run, TERMINAL)
            assert d.action.status.phase == phase_pb2.ACTION_PHASE_SUCCEEDED, d.action
            assert d.action.status.attempts == 2
            assert d.action.attempts[0].error_info.kind == 2  # system error
            assert "devbox stopped" in d.action.attempts[0].error_info.message
            runs = {r.action.id.run.name for r in stub.ListRuns(rs.ListRunsRequest(project_id=PROJECT)).runs}
            assert {done.run.action.id.run.name, aid.run.name} <= runs
        deadline = time.monotonic() + 10
        while _alive(first_pid):
            assert time.monotonic() < deadline, "the leftover attempt was not killed on restart"
            time.sleep(0.05)
    finally:
        box.stop()


class ResumingWatcher:
    """The resume rule of /work/notes/devbox.md: re-watch after a disconnect; deliver an update only
    when its phase is newer than the last one delivered for that action."""

    def __init__(self, box: DevboxProcess, parent) -> None:
        self.box = box
        self.parent = parent
        self.delivered: list[tuple[str, int]] = []
        self.last: dict[str, int] = {}
        self.reconnects = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with grpc.insecure_channel(self.box.endpoint) as ch:
                    stub = asg.ActionsServiceStub(ch)
                    req = asp.WatchForUpdatesRequest(parent_action_id=self.parent)
                    for msg in stub.WatchForUpdates(req, wait_for_ready=True, timeout=60):
                        if self.stop.is_set():
                            return
                        if msg.HasField("control_message"):
                            continue
                        u = msg.action_update
                        if u.phase > self.last.get(u.action_id.name, 0):
                            self.last[u.action_id.name] = u.phase
                            self.delivered.append((u.action_id.name, u.phase))
            except grpc.RpcError:
                self.reconnects += 1
                time.sleep(0.05)


def _enqueue(ch, parent, names: list[str], *, trace: bool) -> None:
    stub = asg.ActionsServiceStub(ch)
    spec = py_spec("import time; time.sleep(300)", retries=3)
    for name in names:
        a = asp.Action(parent_action_name=parent.name, input_uri=os.devnull)
        a.action_id.run.CopyFrom(parent.run)
        a.action_id.name = name
        if trace:
            a.trace.name = name
            a.trace.phase = phase_pb2.ACTION_PHASE_SUCCEEDED
        else:
            a.task.spec.CopyFrom(spec)
        # wait_for_ready: grpcio shares subchannels per process, and the watcher's one may still be
        # backing off from the outage.
        stub.Enqueue(asp.EnqueueRequest(action=a), wait_for_ready=True, timeout=30)


@pytest.mark.slow
def test_watch_resumes_across_a_kill_and_restart_without_loss_or_repeats(tmp_path):
    # concurrency 1: of the sleeping task children one runs (the waiting parent lends its slot), the
    # others stay queued; the restart fails the running one's attempt and requeues it; then all are aborted.
    box = DevboxProcess(tmp_path / "box", concurrency=1).start()
    watcher = None
    try:
        with grpc.insecure_channel(box.endpoint) as ch:
            run = rsg.RunServiceStub(ch).CreateRun(
                rs.CreateRunRequest(project_id=PROJECT, task_spec=py_spec("import time; time.sleep(300)", retries=3))
            )
            parent = run.run.action.id
            watcher = ResumingWatcher(box, parent)
            watcher.thread.start()
            _enqueue(ch, parent, [f"t{i}" for i in range(10)], trace=True)
            _enqueue(ch, parent, [f"q{i}" for i in range(5)], trace=False)
        deadline = time.monotonic() + 20
        while len(watcher.delivered) < 15:
            assert time.monotonic() < deadline, watcher.delivered
            time.sleep(0.02)
        box.kill()
        time.sleep(0.3)
        box.start()
        with grpc.insecure_channel(box.endpoint) as ch:
            _enqueue(ch, parent, [f"t{i}" for i in range(10, 20)], trace=True)
            stub = rsg.RunServiceStub(ch)
            for i in range(5):
                aid = rs.AbortActionRequest().action_id
                aid.run.CopyFrom(parent.run)
                aid.name = f"q{i}"
                stub.AbortAction(rs.AbortActionRequest(action_id=aid, reason="test"), wait_for_ready=True, timeout=30)

        def final() -> dict[str, int]:
            return dict(watcher.delivered)

        def settled() -> bool:
            f = final()
            return all(f.get(f"t{i}") == phase_pb2.ACTION_PHASE_SUCCEEDED for i in range(20)) and all(
                f.get(f"q{i}") == phase_pb2.ACTION_PHASE_ABORTED for i in range(5)
            )

        deadline = time.monotonic() + 30
        while not settled():
            assert time.monotonic() < deadline, (watcher.delivered, watcher.reconnects)
            time.sleep(0.02)
        time.sleep(0.5)  # anything repeated would arrive now
        watcher.stop.set()
        assert watcher.reconnects >= 1
        assert len(watcher.delivered) == len(set(watcher.delivered))  # nothing repeated
        assert settled()  # nothing lost: every child's final state arrived
        queued = sorted(n for n, p in watcher.delivered if p == phase_pb2.ACTION_PHASE_QUEUED)
        assert queued == [f"q{i}" for i in range(5)]  # the snapshot before the crash was delivered too
        for name in {n for n, _ in watcher.delivered}:
            phases = [p for n, p in watcher.delivered if n == name]
            assert phases == sorted(phases), (name, phases)
    finally:
        if watcher is not None:
            watcher.stop.set()
        box.stop()
