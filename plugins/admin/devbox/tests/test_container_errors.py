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


class _DeadEngineAPI:
    """What docker's client does when the engine is gone: every call raises a connection error."""

    calls = 0

    def wait(self, ident: str, timeout: Any = None) -> Any:
        type(self).calls += 1
        raise ConnectionError("Connection refused")

    def inspect_container(self, ident: str) -> Any:
        raise ConnectionError("Connection refused")


def _engine(api: Any) -> Any:
    from flyte_devbox.containers import Engine

    eng: Any = object.__new__(Engine)
    eng.kind, eng.url, eng.streams, eng.api = "docker", "unix:///tmp/gone.sock", api, api
    return eng


def test_a_container_whose_engine_stays_away_is_given_up() -> None:
    """The wait asked again every second for ever: an action whose engine died stayed RUNNING."""
    import pytest
    from flyte_devbox.containers import EngineLost

    with pytest.raises(EngineLost, match=r"docker engine at unix:///tmp/gone.sock has not answered"):
        _engine(_DeadEngineAPI()).wait_exit("c0ffee", lost_after=0.05, retry_every=0.01)


def test_an_engine_that_comes_back_is_waited_for() -> None:
    class Flaky(_DeadEngineAPI):
        def inspect_container(self, ident: str) -> Any:
            if self.calls < 3:
                raise ConnectionError("Connection refused")
            return {"State": {"Running": False, "ExitCode": 3}}

    assert _engine(Flaky()).wait_exit("c0ffee", lost_after=5, retry_every=0.01) == 3


def test_a_lost_container_ends_its_attempt_with_a_note(tmp_path: Any) -> None:
    import asyncio

    from flyte_devbox.containers import ENGINE_LOST_CODE, _Container

    async def main() -> int:
        eng = _engine(_DeadEngineAPI())
        real = eng.wait_exit
        eng.wait_exit = lambda ident: real(ident, lost_after=0.05, retry_every=0.01)
        c = _Container(eng, "c0ffee" * 4, iter(()), tmp_path, asyncio.get_running_loop())
        c.start_following()
        return await asyncio.wait_for(c.wait(), 10)

    assert asyncio.run(main()) == ENGINE_LOST_CODE
    assert "is lost: the docker engine at unix:///tmp/gone.sock has not answered" in (tmp_path / "stderr").read_text()
