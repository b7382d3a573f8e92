"""``flyte deploy``, ``flyte run deployed-task`` and ``flyte.remote.Task.get`` on flyte-devbox."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

LIB = '''
import flyte

base = flyte.TaskEnvironment(name="{p}_base")


@base.task
async def double(x: int) -> int:
    return x * 2
'''

APP = '''
import flyte
import lib

env = flyte.TaskEnvironment(name="{p}_main", depends_on=[lib.base])


@env.task
async def main(x: int = 3) -> int:
    """Double x, add one."""
    return await lib.double(x) + 1
'''


def _project(tmp: Path, prefix: str) -> Path:
    proj = tmp / "proj"
    proj.mkdir()
    (proj / "lib.py").write_text(textwrap.dedent(LIB.format(p=prefix)))
    (proj / "app.py").write_text(textwrap.dedent(APP.format(p=prefix)))
    return proj


def _flyte(box: Any, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "flyte")
    env = {**os.environ, "FLYTE_CONFIG": "", "HOME": str(cwd), "FLYTE_HOME": str(cwd / ".flyte-home")}
    return subprocess.run([exe, "--endpoint", box.endpoint, "--insecure", *args], capture_output=True, text=True,
                          timeout=180, env=env, cwd=cwd)


def test_deploy_then_run_the_deployed_task(devbox: Any, tmp_path: Path) -> None:
    proj = _project(tmp_path, "dep1")
    d = _flyte(devbox, "deploy", str(proj / "app.py"), cwd=tmp_path)
    assert d.returncode == 0, d.stderr
    assert "Deployed 2 task(s) of 2 environment(s) to flytesnacks/development" in d.stdout
    assert "dep1_base.double:" in d.stdout and "dep1_main.main:" in d.stdout  # depends_on came along
    version = d.stdout.split("dep1_main.main:", 1)[1].split()[0]

    again = _flyte(devbox, "deploy", str(proj / "app.py"), cwd=tmp_path)  # unchanged code: same version, no error
    assert again.returncode == 0, again.stderr
    assert f"dep1_main.main:{version}" in again.stdout
    assert "Deployed" not in again.stdout
    assert (f"Nothing changed: all 2 task(s) of 2 environment(s) are already deployed to flytesnacks/development "
            f"as version {version}") in again.stdout

    listed = _flyte(devbox, "run", "deployed-task", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "dep1_main.main" in listed.stdout and version in listed.stdout

    helped = _flyte(devbox, "run", "deployed-task", "dep1_main.main", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "--x" in helped.stdout

    r = _flyte(devbox, "run", "deployed-task", "dep1_main.main", "--x", "5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"of dep1_main.main:{version} submitted" in r.stderr
    assert "o0 = 11" in r.stdout and "2 actions: 2 succeeded" in r.stdout

    pinned = _flyte(devbox, "run", "deployed-task", f"dep1_main.main:{version}", cwd=tmp_path)  # default x=3
    assert pinned.returncode == 0, pinned.stderr
    assert "o0 = 7" in pinned.stdout


def test_dry_run_sends_nothing(devbox: Any, tmp_path: Path) -> None:
    proj = _project(tmp_path, "dep2")
    d = _flyte(devbox, "deploy", "--dry-run", str(proj), cwd=tmp_path)
    assert d.returncode == 0, d.stderr
    assert "Dry run: 2 task(s) of 2 environment(s)" in d.stdout and "nothing was uploaded" in d.stdout
    listed = _flyte(devbox, "run", "deployed-task", cwd=tmp_path)
    assert "dep2_" not in listed.stdout


def test_task_get_in_python_and_image_mapping(remote: Any, tmp_path: Path) -> None:
    import flyte.remote

    proj = _project(tmp_path, "dep3")
    d = _flyte(remote, "deploy", str(proj), "--version", "v-images", "--image", "dep3_main=registry.test/app:7",
               cwd=tmp_path)
    assert d.returncode == 0, d.stderr
    task = flyte.remote.Task.get("dep3_main.main")
    assert (task.name, task.version, task.environment) == ("dep3_main.main", "v-images", "dep3_main")
    assert task.spec.task_template.container.image == "registry.test/app:7"
    assert list(task.interface.inputs) == ["x"]
    base = flyte.remote.Task.get("dep3_base.double", version="v-images")
    assert base.spec.task_template.container.image != "registry.test/app:7"
    with pytest.raises(LookupError, match=r"No deployed task dep3_main.nope in project flytesnacks"):
        flyte.remote.Task.get("dep3_main.nope")
    with pytest.raises(LookupError, match=r"dep3_main.main:v-missing"):
        flyte.remote.Task.get("dep3_main.main", version="v-missing")


def test_unknown_deployed_task_is_one_line(devbox: Any, tmp_path: Path) -> None:
    r = _flyte(devbox, "run", "deployed-task", "nobody.nothing", cwd=tmp_path)
    assert r.returncode == 1
    assert "No deployed task nobody.nothing" in r.stderr and "Traceback" not in r.stderr


def test_flyte_run_image_mapping_reaches_the_spec(devbox: Any, tmp_path: Path) -> None:
    import asyncio

    from flyte.admin import AdminSettings, connect
    from flyteidl2.common import identifier_pb2
    from flyteidl2.workflow import run_service_pb2 as rs

    proj = _project(tmp_path, "dep4")
    r = _flyte(devbox, "run", "--image", "dep4_main=registry.test/main:3", str(proj / "app.py"), "main", "--x", "2",
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "o0 = 5" in r.stdout
    name = r.stderr.split("Run ", 1)[1].split(" ", 1)[0]

    async def spec_image() -> str:
        settings = AdminSettings.from_config(endpoint=devbox.endpoint, insecure=True)
        async with await connect(settings) as client:
            run_id = identifier_pb2.RunIdentifier(org="", project="flytesnacks", domain="development", name=name)
            d = await client.run.GetRunDetails(rs.GetRunDetailsRequest(run_id=run_id))
        return str(d.details.action.task.task_template.container.image)

    assert asyncio.run(spec_image()) == "registry.test/main:3"
    bad = _flyte(devbox, "run", "--local", "--image", "x=y", str(proj / "app.py"), "main", cwd=tmp_path)
    assert bad.returncode == 2 and "--image are for runs on a control plane" in bad.stderr


def test_flyte_run_of_a_fetched_deployed_task(remote: Any, tmp_path: Path) -> None:
    import flyte
    import flyte.remote

    proj = _project(tmp_path, "dep5")
    d = _flyte(remote, "deploy", str(proj), cwd=tmp_path)
    assert d.returncode == 0, d.stderr
    task = flyte.remote.Task.get("dep5_main.main")
    run = flyte.run(task, x=10)
    run.wait()
    assert run.outputs()[0] == 21
    assert flyte.run(task).outputs()[0] == 7  # the deployed default x=3
    with pytest.raises(TypeError, match="the 'local' runtime cannot run it"):
        flyte.with_runcontext(mode="local").run(task, x=1)
