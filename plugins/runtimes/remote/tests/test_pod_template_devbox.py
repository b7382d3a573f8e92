"""A task with a flyte.PodTemplate (TaskTemplate.k8s_pod, no container) runs on flyte-devbox: its primary container."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("kubernetes")

PROGRAM = '''
import os
import flyte

env = flyte.TaskEnvironment(
    name="pod_env",
    env_vars={"FROM_TASK": "t"},
    pod_template=flyte.PodTemplate(
        pod_spec={"containers": [{"name": "main", "env": [{"name": "FROM_POD", "value": "p"}]},
                                 {"name": "sidecar", "image": "busybox"}],
                  "nodeSelector": {"pool": "any"}},
        primary_container_name="main",
        labels={"team": "ml"},
    ),
)


@env.task
async def child(x: int) -> str:
    return f"{x}:{os.environ.get('FROM_TASK')}:{os.environ.get('FROM_POD')}"


@env.task
async def parent(n: int) -> list[str]:
    return [await child(i) for i in range(n)]
'''


def test_pod_template_tasks_run_on_the_devbox(remote: Any, tmp_path: Path) -> None:
    import importlib

    import flyte

    (tmp_path / "pod_prog.py").write_text(textwrap.dedent(PROGRAM))
    sys.path.insert(0, str(tmp_path))
    try:
        prog = importlib.import_module("pod_prog")
        run = flyte.run(prog.parent, n=2)
        run.wait()
        assert run.outputs()[0] == ["0:t:p", "1:t:p"]  # children are pod template tasks too
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("pod_prog", None)
