"""ActionsController against an in-memory control plane: enqueue, one watch, re-attach, ALREADY_EXISTS, abort."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import flyte
import pytest
from flyte.remote import io
from flyte.remote.controller import ActionsController
from flyte.remote.spec import SpecContext
from flyteidl2.common import phase_pb2
from flyteidl2.workflow import state_service_pb2 as ss

env = flyte.TaskEnvironment(name="ctl")


@env.task
async def double(x: int) -> int:
    return 2 * x


class _Exists(Exception):
    def code(self) -> Any:
        class S:
            name = "ALREADY_EXISTS"

        return S()


class FakePlane:
    """Runs each enqueued child at once (writes outputs.pb) and tells the one watch; can pre-seed finished ones."""

    def __init__(self, base: Path, *, exists: bool = False, hold: bool = False) -> None:
        self.base = base
        self.enqueued: list[str] = []
        self.aborted: list[str] = []
        self.watches = 0
        self.finished: dict[str, ss.ActionUpdate] = {}
        self.exists = exists
        self.hold = hold
        self._q: asyncio.Queue[ss.ActionUpdate] | None = None
        self.actions = self
        self.state = self

    async def finish(self, name: str, value: int, notify: bool = True) -> None:
        prefix = str(self.base / name / "1")
        lits = await io_outputs(value)
        await io.write_bytes(io.join(prefix, io.OUTPUTS), io.outputs_message(lits).SerializeToString())
        upd = ss.ActionUpdate(phase=phase_pb2.ACTION_PHASE_SUCCEEDED, output_uri=prefix)
        upd.action_id.name = name
        self.finished[name] = upd
        if notify and self._q is not None:
            await self._q.put(upd)

    async def Enqueue(self, req: Any) -> Any:  # noqa: N802 - the gRPC method's name
        name = req.action.action_id.name
        self.enqueued.append(name)
        lits = await io.read_inputs(req.action.input_uri)
        x = lits["x"].scalar.primitive.integer
        if not self.hold:
            await self.finish(name, 2 * x)
        if self.exists:
            raise _Exists()

    async def Abort(self, req: Any) -> Any:  # noqa: N802
        self.aborted.append(req.action_id.name)

    def WatchForUpdates(self, req: Any) -> Any:  # noqa: N802
        raise AssertionError("called through watch()")

    async def watch(self, method: Any, request: Any) -> AsyncIterator[Any]:
        self.watches += 1
        self._q = asyncio.Queue()
        for upd in self.finished.values():
            yield ss.WatchResponse(action_update=upd)
        yield ss.WatchResponse(control_message=ss.ControlMessage(sentinel=True))
        while True:
            yield ss.WatchResponse(action_update=await self._q.get())

    async def close(self) -> None:
        pass


async def io_outputs(value: int) -> dict[str, Any]:
    from flyte.types.interface import outputs_to_literals

    return await outputs_to_literals(double.interface, value)


def _controller(plane: FakePlane, base: Path) -> ActionsController:
    return ActionsController(plane, org="o", project="p", domain="d", run_name="r1", parent="a0",  # type: ignore[arg-type]
                             run_base_dir=str(base), spec_context=SpecContext(project="p", domain="d", version="v"))


def test_children_are_enqueued_and_answered_on_one_watch(tmp_path: Path) -> None:
    async def go() -> list[int]:
        plane = FakePlane(tmp_path)
        c = _controller(plane, tmp_path)
        try:
            out = await asyncio.gather(*(c.submit(double, (i,), {}) for i in range(10)))
        finally:
            await c.close()
        assert plane.watches == 1 and len(set(plane.enqueued)) == 10
        assert (tmp_path / plane.enqueued[0] / "inputs.pb").is_file()
        return list(out)

    assert asyncio.run(go()) == [2 * i for i in range(10)]


def test_a_retried_parent_reattaches_to_finished_children(tmp_path: Path) -> None:
    async def go() -> None:
        first = FakePlane(tmp_path)
        c1 = _controller(first, tmp_path)
        assert await c1.submit(double, (3,), {}) == 6
        await c1.close()
        again = FakePlane(tmp_path)  # the next attempt of the parent: the child is in the watch's snapshot
        again.finished = dict(first.finished)
        c2 = _controller(again, tmp_path)
        assert await c2.submit(double, (3,), {}) == 6
        await c2.close()
        assert again.enqueued == []  # not launched again

    asyncio.run(go())


def test_already_exists_waits_for_the_running_child(tmp_path: Path) -> None:
    async def go() -> None:
        plane = FakePlane(tmp_path, exists=True)
        c = _controller(plane, tmp_path)
        assert await c.submit(double, (5,), {}) == 10
        await c.close()

    asyncio.run(go())


def test_a_cancelled_call_aborts_its_child(tmp_path: Path) -> None:
    async def go() -> None:
        plane = FakePlane(tmp_path, hold=True)
        c = _controller(plane, tmp_path)
        t = asyncio.ensure_future(c.submit(double, (1,), {}))
        while not plane.enqueued:
            await asyncio.sleep(0.01)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        await c.close()
        assert plane.aborted == plane.enqueued

    asyncio.run(go())


def test_a_failed_enqueue_is_a_control_plane_error_and_a_system_error(tmp_path: Path) -> None:
    from flyte.remote.controller import ControlPlaneError
    from flyte.remote.worker import _is_system

    class Broken(FakePlane):
        async def Enqueue(self, req: Any) -> Any:  # noqa: N802
            raise ConnectionError("the control plane went away")

    async def go() -> None:
        c = _controller(Broken(tmp_path), tmp_path)
        try:
            await c.submit(double, (1,), {})
        finally:
            await c.close()

    with pytest.raises(ControlPlaneError, match="could not launch child action .* went away") as e:
        asyncio.run(go())
    try:
        raise ValueError("a body wrapped it") from e.value
    except ValueError as wrapped:
        assert _is_system(wrapped)
    assert not _is_system(ValueError("plain user error"))


@env.task(cache="auto")
async def cached_double(x: int, note: str = "") -> int:
    return 2 * x


def test_cached_tasks_carry_a_cache_key_that_ignores_ignored_inputs(tmp_path: Path) -> None:
    keys: list[str] = []

    class Capture(FakePlane):
        async def Enqueue(self, req: Any) -> Any:  # noqa: N802
            t = req.action.task
            keys.append(t.cache_key.value if t.HasField("cache_key") else "")
            await super().Enqueue(req)

    async def go() -> None:
        c = _controller(Capture(tmp_path), tmp_path)
        try:
            await c.submit(cached_double, (1,), {})
            await c.submit(cached_double, (2,), {})
            await c.submit(double, (1,), {})
        finally:
            await c.close()

    asyncio.run(go())
    assert keys[0] and keys[1] and keys[0] != keys[1] and keys[2] == ""
    from flyte.remote.names import cache_key
    from flyte.types.interface import inputs_to_literals

    a = asyncio.run(inputs_to_literals(cached_double.interface, (1,), {"note": "a"}))
    b = asyncio.run(inputs_to_literals(cached_double.interface, (1,), {"note": "b"}))
    assert cache_key("t", "v", a, ("note",)) == cache_key("t", "v", b, ("note",)) != cache_key("t", "v", a)
