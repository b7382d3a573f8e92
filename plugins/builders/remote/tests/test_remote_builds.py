"""The remote builder against a real flyte-devbox that builds with dockerd and with podman.

Every test here runs twice (``remote_env`` is parametrized over the engines). The devbox pushes to the
stack's loopback registries; images are pulled back and run with podman to see what the RUN steps did.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from flyte import Image
from flyte.images import build_images
from flyte.images.errors import ImageBuildError, RegistryAuthError
from flyte.testing.builders import BuilderConformance, BuilderTarget
from flyte_devbox.images import ImageRecords
from flyte_remote_builder.builder import RemoteBuilder

pytestmark = pytest.mark.slow
RemoteEnv = Any  # conftest.RemoteEnv (test modules cannot import conftest under --import-mode=importlib)


def _dead_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"dns:///127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture(scope="module")
def builder_target(remote_env: RemoteEnv) -> BuilderTarget:
    # auth_registry=None: the conformance suite's credential tests set the *client's* Docker config, while a
    # remote build pushes with the control plane's; test_devbox_credentials_are_used covers that instead.
    return BuilderTarget(remote_env.builder(), remote_env.stack.registry.host, remote_env.stack.base_image,
                         unavailable=RemoteBuilder(endpoint=_dead_endpoint(), insecure=True))


class TestRemoteBuilderConformance(BuilderConformance):
    """The builder suite, with the two tests a remote builder cannot pass as written replaced."""

    always_pushes = True  # a remote build always pushes

    def test_no_push_does_not_rebuild_what_the_engine_has(self, builder_target: BuilderTarget, source: Path) -> None:
        img = self.image(builder_target, source)
        with pytest.raises(ImageBuildError) as e:
            build_images([img], builder=builder_target.builder, push=False)
        assert "always pushes" in str(e.value) and "--builder docker" in str(e.value)

    def test_dockerfile_context_holds_only_the_users_files(self, builder_target: BuilderTarget,
                                                           tmp_path: Path) -> None:
        (tmp_path / "Dockerfile").write_text(f"FROM {builder_target.base_image}\n")
        img = Image.from_dockerfile(tmp_path / "Dockerfile", registry=builder_target.registry, name="df")
        with pytest.raises(ImageBuildError) as e:
            builder_target.builder.build(img)
        assert "Dockerfile" in str(e.value) and "local builder" in str(e.value)


def _image(env: RemoteEnv, tmp: Path, marker: str, registry: str | None = None) -> Image:
    src = tmp / "src"
    src.mkdir(exist_ok=True)
    (src / "data.txt").write_text(f"{marker}\n")
    return (
        Image.from_base(env.stack.base_image)
        .with_source_folder(src, "/app/src")
        .with_commands([f"cat /app/src/data.txt > /built.txt && echo built-{marker} >> /built.txt"])
        .clone(registry=registry or env.stack.registry.host, name="remote-e2e")
    )


def _pull_and_run(env: RemoteEnv, uri: str, *cmd: str) -> str:
    """Pull ``uri`` from its registry with podman (a copy held locally is removed first) and run ``cmd`` in it."""
    p = env.stack.podman
    p.run("podman", "rmi", "-f", uri, check=False)
    p.run("podman", "pull", "--tls-verify=false", uri, timeout=300)
    return p.run("podman", "run", "--rm", "--network", "none", uri, *cmd, timeout=120).stdout


def test_build_pull_run_and_second_request_is_a_noop(remote_env: RemoteEnv, tmp_path: Path) -> None:
    marker = uuid.uuid4().hex[:12]
    img = _image(remote_env, tmp_path, marker)
    builder = remote_env.builder()
    lines: list[str] = []
    statuses: list[str] = []
    [first] = build_images([img], builder=builder, on_output=lambda uri, line: lines.append(line),
                           on_status=lambda uri, s: statuses.append(s))
    assert first.status == "pushed" and first.uri == img.uri
    assert statuses[-2:] == ["building", "pushed"]
    assert any(line.startswith("build run ") for line in lines)  # the live log came through TailLogs
    assert any("cat /app/src/data.txt" in line for line in lines), lines
    rec = ImageRecords(remote_env.records).get(img.uri)
    assert rec is not None and rec.builds == 1 and rec.run

    out = _pull_and_run(remote_env, img.uri, "cat", "/built.txt")
    assert out.split() == [marker, f"built-{marker}"]

    statuses.clear()
    [again] = build_images([_image(remote_env, tmp_path, marker)], builder=builder,
                           on_status=lambda uri, s: statuses.append(s))
    assert again.status == "exists" and again.uri == img.uri
    assert "building" not in statuses
    rec = ImageRecords(remote_env.records).get(img.uri)
    assert rec is not None and rec.builds == 1  # no second build on the devbox


def test_image_already_in_the_registry_is_not_built(remote_env: RemoteEnv, tmp_path: Path) -> None:
    # the devbox has no record of it (pushed by someone else): the build run finds it and builds nothing
    img = _image(remote_env, tmp_path, uuid.uuid4().hex[:12])
    p = remote_env.stack.podman
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {remote_env.stack.base_image}\nRUN echo elsewhere > /built.txt\n")
    p.run("podman", "build", "--network", "none", "--tls-verify=false", "-t", img.uri, str(ctx), timeout=300)
    p.run("podman", "push", "--tls-verify=false", img.uri, timeout=300)
    lines: list[str] = []
    [r] = build_images([img], builder=remote_env.builder(), on_output=lambda uri, line: lines.append(line))
    assert r.uri == img.uri
    assert any("already in the registry: not built" in line for line in lines), lines
    rec = ImageRecords(remote_env.records).get(img.uri)
    assert rec is not None and rec.builds == 0
    assert remote_env.builder().exists(img.uri)


def test_devbox_credentials_are_used(remote_env: RemoteEnv, tmp_path: Path) -> None:
    """The client has no credentials for the authenticated registry; the devbox does and pushes there. A
    devbox without them reports the registry's refusal as a RegistryAuthError naming the registry."""
    auth = remote_env.stack.auth_registry.host
    img = _image(remote_env, tmp_path, uuid.uuid4().hex[:12], registry=auth)
    [r] = build_images([img], builder=remote_env.builder())
    assert r.status == "pushed"
    assert remote_env.builder().exists(img.uri)

    (tmp_path / "other").mkdir()
    other = _image(remote_env, tmp_path / "other", uuid.uuid4().hex[:12], registry=auth)
    with remote_env.another_devbox(tmp_path / "wrong-creds", auth_password="nope-wrong") as box:
        builder = RemoteBuilder(endpoint=f"dns:///{box.endpoint}", insecure=True)
        with pytest.raises(RegistryAuthError) as e:
            build_images([other], builder=builder)
        assert auth in str(e.value)
        assert "nope-wrong" not in str(e.value)


def _workflow(env: RemoteEnv, tmp: Path, commands: list[str]) -> Path:
    (tmp / "app").mkdir(exist_ok=True)
    (tmp / "app" / "main.py").write_text(f"print('{uuid.uuid4().hex}')\n")
    wf = tmp / "wf.py"
    wf.write_text(textwrap.dedent(f"""
        from pathlib import Path
        import flyte
        from flyte import Image

        env = flyte.TaskEnvironment(
            name="remote_cli",
            image=Image.from_base({env.stack.base_image!r})
            .with_source_folder(Path({str(tmp / 'app')!r}), "/app")
            .with_commands({commands!r}),
        )
    """))
    (tmp / ".flyte").mkdir(exist_ok=True)
    (tmp / ".flyte" / "config.yaml").write_text(
        f"admin:\n  endpoint: dns:///{env.box.endpoint}\n  insecure: true\n"
        f"image:\n  builder: remote\n  registry: {env.stack.registry.host}\n")
    return wf


def _flyte_build(tmp: Path, wf: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp), "FLYTE_HOME": str(tmp / ".flyte-home")}
    flyte = Path(sys.executable).parent / "flyte"
    return subprocess.run([str(flyte), "build", str(wf)], capture_output=True, text=True, env=env, cwd=tmp,
                          timeout=600)


def test_flyte_build_cli(remote_env: RemoteEnv, tmp_path: Path) -> None:
    wf = _workflow(remote_env, tmp_path, ["cat /app/main.py"])
    r = _flyte_build(tmp_path, wf)
    assert r.returncode == 0, r.stderr
    [uri] = r.stdout.split()
    assert uri.startswith(f"{remote_env.stack.registry.host}/flyte:")
    assert "built and pushed" in r.stderr
    r2 = _flyte_build(tmp_path, wf)
    assert r2.returncode == 0 and r2.stdout.split() == [uri]
    assert "not rebuilt" in r2.stderr


def test_flyte_build_cli_failure_shows_the_log_tail(remote_env: RemoteEnv, tmp_path: Path) -> None:
    wf = _workflow(remote_env, tmp_path, ["echo about-to-fail-9 && exit 3"])
    r = _flyte_build(tmp_path, wf)
    assert r.returncode != 0
    assert "about-to-fail-9" in r.stderr  # the log's tail
    assert "exit 3" in r.stderr and "failed" in r.stderr
    assert "Traceback" not in r.stderr


def test_build_past_its_timeout_is_aborted(remote_env: RemoteEnv, tmp_path: Path) -> None:
    img = _image(remote_env, tmp_path, uuid.uuid4().hex[:12]).with_commands(["sleep 60"])
    with pytest.raises(ImageBuildError) as e:
        build_images([img], builder=remote_env.builder(timeout=3))
    assert "took longer than 3s" in str(e.value) and "aborted" in str(e.value)
    assert not remote_env.builder().exists(img.uri)
    # the abort killed the build's process before it could clean up; the next build removes what it left
    (tmp_path / "next").mkdir()
    build_images([_image(remote_env, tmp_path / "next", uuid.uuid4().hex[:12])], builder=remote_env.builder())
    assert remote_env.build_leftovers() == []


def test_concurrent_requests_build_once(remote_env: RemoteEnv, tmp_path: Path) -> None:
    """Two clients asking for the same missing image at once: two build runs, one build (the second waits for
    the first and finds the image pushed)."""
    from concurrent.futures import ThreadPoolExecutor

    img = _image(remote_env, tmp_path, uuid.uuid4().hex[:12]).with_commands(["sleep 2"])
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: build_images([img], builder=remote_env.builder())[0], range(2)))
    assert {r.uri for r in results} == {img.uri}
    rec = ImageRecords(remote_env.records).get(img.uri)
    assert rec is not None and rec.builds == 1
    assert remote_env.build_leftovers() == []


def _run_phase(env: RemoteEnv, run_name: str) -> str:
    import asyncio

    from flyte.remote.names import phase_name
    from flyteidl2.common import identifier_pb2
    from flyteidl2.workflow import run_service_pb2 as rs

    b = env.builder()
    t = b.target()

    async def ask() -> str:
        async with await b._connect(t) as client:
            resp = await client.run.GetRunDetails(rs.GetRunDetailsRequest(run_id=identifier_pb2.RunIdentifier(
                org=t.org, project=t.project, domain=t.domain, name=run_name)))
            return str(phase_name(resp.details.action.status.phase))

    return asyncio.run(ask())


def test_cancelled_run_submission_aborts_its_image_build(remote_env: RemoteEnv, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while ``flyte run --runtime remote`` has a missing image built (resolve_images runs the build on a
    worker thread): the caller stops within seconds, not when the build ends, and the build run is aborted."""
    import asyncio
    import time

    import flyte
    from flyte_remote.images import BUILD_PROGRESS, resolve_images

    monkeypatch.setenv("FLYTE_IMAGE_BUILDER", "remote")
    monkeypatch.setenv("FLYTE_ADMIN_ENDPOINT", f"dns:///{remote_env.box.endpoint}")
    monkeypatch.setenv("FLYTE_ADMIN_INSECURE", "true")
    img = _image(remote_env, tmp_path, uuid.uuid4().hex[:12]).with_commands(["echo slow-step-started; sleep 60"])
    env = flyte.TaskEnvironment(name=f"cancel_{uuid.uuid4().hex[:8]}", image=img)
    lines: list[str] = []
    statuses: list[str] = []

    async def go() -> float:
        BUILD_PROGRESS.set((lambda uri, s: statuses.append(s), lambda uri, line: lines.append(line)))
        task = asyncio.create_task(resolve_images([env]))
        deadline = time.monotonic() + 120
        while not any("slow-step-started" in line for line in lines):
            assert time.monotonic() < deadline and not task.done(), lines
            await asyncio.sleep(0.2)
        task.cancel()
        t0 = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - t0

    took = asyncio.run(go())
    assert took < 15, took
    assert "building" in statuses and "pushed" not in statuses
    [run] = [line.split()[2] for line in lines if line.startswith("build run ")]
    assert _run_phase(remote_env, run) == "ABORTED"
    assert not remote_env.builder().exists(img.uri)


def test_control_plane_gone_mid_build_is_an_error_not_a_hang(remote_env: RemoteEnv, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The devbox dies while the client follows its build: the client gives up after FLYTE_REMOTE_LOST_AFTER
    seconds without an answer, saying so, instead of reconnecting until the build's timeout (an hour)."""
    import threading
    import time

    from flyte.testing.builders import AUTH_PASSWORD

    monkeypatch.setenv("FLYTE_REMOTE_LOST_AFTER", "2")
    img = _image(remote_env, tmp_path, uuid.uuid4().hex[:12]).with_commands(["echo slow-step-started; sleep 60"])
    box = remote_env.another_devbox(tmp_path / "dies", auth_password=AUTH_PASSWORD)
    with box:
        builder = RemoteBuilder(endpoint=f"dns:///{box.endpoint}", insecure=True)
        lines: list[str] = []
        outcome: list[BaseException] = []

        def build() -> None:
            try:
                builder.build(img, on_output=lines.append)
            except BaseException as e:
                outcome.append(e)

        t = threading.Thread(target=build, daemon=True)
        t.start()
        deadline = time.monotonic() + 120
        while not any("slow-step-started" in line for line in lines):
            assert time.monotonic() < deadline and t.is_alive(), (lines, outcome)
            time.sleep(0.2)
        assert box.proc is not None
        box.proc.kill()
        box.proc.wait()
        t.join(30)
        assert not t.is_alive(), "the client still waits for a control plane that is gone"
        [e] = outcome
        assert isinstance(e, ImageBuildError)
        assert "lost contact with the control plane" in str(e) and "no answer for 2s" in str(e)
        box.start(timeout=60)  # kills the build the killed devbox left running (it is recovered as interrupted)
