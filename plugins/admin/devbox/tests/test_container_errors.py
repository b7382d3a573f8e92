"""How the container executor words an engine's refusal to start a container (no engine needed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flyte_devbox.containers import ContainerExecutor


def _error(text: str, exe: str = "flyte-core-worker") -> Any:
    ex: Any = object.__new__(ContainerExecutor)
    ex.engine = SimpleNamespace(kind="podman", url="unix:///run/podman.sock")
    return ex._start_error("reg.test/app:1", "env.t", exe, RuntimeError(text))


def test_a_missing_entry_point_names_the_image_and_the_worker() -> None:
    for text in ('exec: "flyte-core-worker": executable file not found in $PATH',
                 "crun: executable file `flyte-core-worker` not found in $PATH: No such file or directory"):
        err = _error(text)
        assert err.code == "EntrypointNotFound" and "reg.test/app:1" in err.message, text


def test_other_start_errors_are_not_called_a_missing_entry_point() -> None:
    for text in ("statfs /var/lib/devbox/work/r/a0/1: no such file or directory",
                 "network devbox-net not found"):
        err = _error(text)
        assert err.code == "ContainerStartFailed" and text in err.message, (text, err.code)
