"""The remote runtime end to end on flyte-devbox: our client submits, our worker runs the actions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def test_hello_world(remote: Any) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.hello, name="devbox")
    assert run.runtime == "remote"
    assert run.url.endswith(run.name)
    assert run.outputs()[0] == "hello devbox"
    assert run.phase == flyte.runtime.Phase.SUCCEEDED


def test_fan_out_and_sync_children(remote: Any) -> None:
    import e2e_prog
    import flyte

    r1 = flyte.run(e2e_prog.fan_out, n=20)
    r2 = flyte.run(e2e_prog.sync_parent, n=3)
    assert r1.outputs()[0] == sum(i * i for i in range(20))
    assert r2.outputs()[0] == [1, 2, 3]


def test_user_error_is_raised_with_its_message(remote: Any) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.fail, x=7)
    with pytest.raises(flyte.errors.RuntimeUserError, match="ValueError: boom 7"):
        run.wait()
    assert run.phase == flyte.runtime.Phase.FAILED


def test_crash_then_success_on_retry(remote: Any, tmp_path: Path) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.flaky, marker_dir=str(tmp_path))
    assert run.outputs()[0] == "ok on retry"


def test_timeout(remote: Any) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.slow, seconds=30)
    t0 = time.monotonic()
    with pytest.raises(flyte.errors.RuntimeUserError):
        run.wait()
    assert time.monotonic() - t0 < 20
    assert run.phase in (flyte.runtime.Phase.FAILED, flyte.runtime.Phase.TIMED_OUT)


def test_abort_a_running_run(remote: Any) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.sleeper, seconds=60)
    deadline = time.monotonic() + 15
    while run.handle.refresh() != flyte.runtime.Phase.RUNNING and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.1)
    run.abort()
    with pytest.raises(flyte.errors.RunAbortedError):
        run.wait()
    assert run.phase == flyte.runtime.Phase.ABORTED


def test_200_way_fan_out(remote: Any) -> None:
    import e2e_prog
    import flyte

    assert flyte.run(e2e_prog.fan_out, n=200).outputs()[0] == sum(i * i for i in range(200))


def test_flyte_map_in_a_sync_body(remote: Any) -> None:
    import e2e_prog
    import flyte

    assert flyte.run(e2e_prog.mapped, n=5).outputs()[0] == [0, 1, 4, 9, 16]


def test_file_and_dir_between_tasks(remote: Any) -> None:
    import e2e_prog
    import flyte

    out = flyte.run(e2e_prog.read_both, text="payload", n=3).outputs()[0]
    assert out == "payload|['f0.txt', 'f1.txt', 'f2.txt']"


def test_dataclass_and_pydantic_io(remote: Any) -> None:
    import e2e_prog
    import flyte

    p, b = flyte.run(e2e_prog.records, p=e2e_prog.Point(1, 2), b=e2e_prog.Box(label="old", points=[7])).outputs()
    assert p == e2e_prog.Point(11, 12)
    assert b == e2e_prog.Box(label="new", points=[7, 1])


def test_same_outputs_locally_and_remotely(remote: Any) -> None:
    import e2e_prog
    import flyte

    for task, kwargs in ((e2e_prog.fan_out, {"n": 7}), (e2e_prog.records, {"p": e2e_prog.Point(3, 4),
                                                                           "b": e2e_prog.Box(label="l", points=[])})):
        local = flyte.with_runcontext(mode="local").run(task, **kwargs).outputs()
        there = flyte.run(task, **kwargs).outputs()
        assert tuple(local) == tuple(there), task.name


def test_a_retried_parent_reattaches_to_finished_children(remote: Any, tmp_path: Path) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.reattach, n=4, log_dir=str(tmp_path))
    assert run.outputs()[0] == 60
    assert (tmp_path / "parent-crashed").exists()  # the first attempt did fail after its children
    ran = sorted(p.name.rsplit("-", 1)[0] for p in tmp_path.glob("ran-*"))
    assert ran == ["ran-0", "ran-1", "ran-2", "ran-3"]  # each child ran once, not once per parent attempt


def _actions(box: Any, run_name: str) -> dict[str, str]:
    import asyncio

    from flyte.admin import AdminSettings, connect
    from flyteidl2.common import identifier_pb2
    from flyteidl2.workflow import run_service_pb2 as rs

    async def go() -> dict[str, str]:
        async with await connect(AdminSettings(endpoint=box.endpoint, insecure=True)) as client:
            rid = identifier_pb2.RunIdentifier(project="flytesnacks", domain="development", name=run_name)
            resp = await client.run.ListActions(rs.ListActionsRequest(run_id=rid))
            from flyte.remote.names import phase_name

            return {a.id.name: phase_name(a.status.phase) for a in resp.actions}

    return asyncio.run(go())


def test_aborting_a_parent_aborts_its_children(remote: Any) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.parent_of_sleepers, n=3)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        phases = _actions(remote, run.name)
        if sum(1 for name, ph in phases.items() if name != "a0" and ph == "RUNNING") == 3:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"children did not start: {phases}")
    run.abort(reason="test")
    with pytest.raises(flyte.errors.RunAbortedError):
        run.wait()
    phases = _actions(remote, run.name)
    assert set(phases.values()) == {"ABORTED"}, phases


def test_children_through_queue_service_without_use_actions(remote: Any) -> None:
    import e2e_prog
    import flyte

    run = flyte.with_runcontext(env_vars={"_U_USE_ACTIONS": ""}).run(e2e_prog.fan_out, n=3)
    assert run.outputs()[0] == 5


def test_init_from_config_then_run_and_with_runcontext(devbox: Any, tmp_path: Path) -> None:
    import sys

    import flyte
    import flyte.config

    programs = str(Path(__file__).parent / "programs")
    if programs not in sys.path:
        sys.path.insert(0, programs)
    import e2e_prog

    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"admin:\n  endpoint: dns:///{devbox.endpoint}\n  insecure: true\n"
                   "task:\n  project: flytesnacks\n  domain: staging\n")
    flyte.init_from_config(str(cfg))
    try:
        run = flyte.run(e2e_prog.hello, name="config")
        assert run.runtime == "remote" and "/domain/staging/" in run.url
        assert run.outputs()[0] == "hello config"
        named = flyte.with_runcontext(mode="remote", name=f"named-{int(time.time())}").run(e2e_prog.square, x=9)
        assert named.name.startswith("named-") and named.outputs()[0] == 81
        assert flyte.with_runcontext(mode="local").run(e2e_prog.square, x=3).runtime == "local"
    finally:
        flyte.init()
        flyte.config.set_config(None)


def test_report_is_served_from_the_attempt_folder(remote: Any) -> None:
    import asyncio

    import e2e_prog
    import flyte
    import httpx
    from flyte.admin import AdminSettings, connect
    from flyteidl2.common import identifier_pb2
    from flyteidl2.dataproxy import dataproxy_service_pb2 as dp

    run = flyte.run(e2e_prog.reported, x=5)
    assert run.outputs()[0] == 5

    async def link() -> str:
        async with await connect(AdminSettings(endpoint=remote.endpoint, insecure=True)) as client:
            rid = identifier_pb2.RunIdentifier(project="flytesnacks", domain="development", name=run.name)
            req = dp.CreateDownloadLinkRequest(artifact_type=dp.ARTIFACT_TYPE_REPORT)
            req.action_attempt_id.action_id.CopyFrom(identifier_pb2.ActionIdentifier(run=rid, name="a0"))
            req.action_attempt_id.attempt = 1
            resp = await client.dataproxy.CreateDownloadLink(req)
            return str(resp.pre_signed_urls.signed_url[0])

    page = httpx.get(asyncio.run(link())).text
    assert "report of 5" in page


def test_local_file_and_dir_inputs_are_uploaded_through_dataproxy(remote: Any, tmp_path: Path) -> None:
    import e2e_prog
    import flyte
    from flyte.io import Dir, File

    (tmp_path / "in.txt").write_text("local bytes")
    d = tmp_path / "folder"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("a")
    (d / "sub" / "b.txt").write_text("b")
    out = flyte.run(e2e_prog.read_inputs, f=File(path=str(tmp_path / "in.txt")), d=Dir(path=str(d))).outputs()[0]
    path, content, names = out.split("|")
    assert content == "local bytes" and names == "['a.txt', 'sub/b.txt']"
    assert str(tmp_path) not in path and "/uploads/" in path  # the worker read the uploaded copy, not our file


def test_secrets_reach_the_task_as_env_var_and_file(remote: Any) -> None:
    import asyncio

    import e2e_prog
    import flyte
    from flyte.admin import AdminSettings, connect
    from flyteidl2.secret import definition_pb2 as sd
    from flyteidl2.secret import payload_pb2 as sp

    async def create() -> None:
        async with await connect(AdminSettings(endpoint=remote.endpoint, insecure=True)) as client:
            for name, value in (("e2e-token", "s3cr3t-value"), ("e2e-file", "from a file")):
                sid = sd.SecretIdentifier(name=name, project="flytesnacks", domain="development")
                try:
                    await client.secret.CreateSecret(sp.CreateSecretRequest(
                        id=sid, secret_spec=sd.SecretSpec(string_value=value)))
                except Exception as e:  # a rerun on the same devbox
                    if "ALREADY_EXISTS" not in str(e):
                        raise

    asyncio.run(create())
    assert flyte.run(e2e_prog.read_secrets).outputs()[0] == "12:from a file"


def test_logs_of_a_finished_run(remote: Any) -> None:
    import e2e_prog
    import flyte

    run = flyte.run(e2e_prog.chatty, n=3)
    run.wait()
    text = run.handle.logs()
    assert "line 0 from the task" in text and "line 2 from the task" in text
