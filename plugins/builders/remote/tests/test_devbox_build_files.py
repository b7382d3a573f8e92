"""The devbox's build process: leaves nothing behind (its temporary files and lock files, also those of a build
that was killed - an abort is SIGKILL - are removed) and never holds the build context whole in memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from flyte_devbox.image_build import _lock, _scratch

_HOLD = """
import sys, tempfile, time
from pathlib import Path
from flyte_devbox.image_build import _lock, _scratch
data = Path(sys.argv[1])
with _lock(data / "images.db", "reg.test/a:1"), _scratch(data) as mine:
    Path(tempfile.mkdtemp(prefix="flyte-build-")).joinpath("Dockerfile").write_text("FROM x")
    print(mine, flush=True)
    time.sleep(60)
"""


def _holder(data: Path) -> tuple[subprocess.Popen[str], Path]:
    p = subprocess.Popen([sys.executable, "-c", _HOLD, str(data)], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    return p, Path(p.stdout.readline().strip())


def test_a_killed_builds_files_are_removed_by_the_next_build(tmp_path: Path) -> None:
    killed, its_folder = _holder(tmp_path)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert [p.name for p in its_folder.iterdir()][0].startswith("flyte-build-")  # the builder's temp went there
    assert len(list((tmp_path / "image-locks").iterdir())) == 1

    running, running_folder = _holder(tmp_path)  # a build still running keeps its folder
    try:
        with _lock(tmp_path / "images.db", "reg.test/b:1"), _scratch(tmp_path) as mine:
            assert Path(tempfile.mkdtemp()).parent == mine
            assert not its_folder.exists() and running_folder.exists()
        assert sorted(p.name for p in (tmp_path / "image-builds").iterdir()) == [running_folder.name]
    finally:
        running.kill()
        running.wait()
    with _lock(tmp_path / "images.db", "reg.test/c:1"), _scratch(tmp_path):  # the next build, once it ended
        pass
    assert list((tmp_path / "image-builds").iterdir()) == []
    assert list((tmp_path / "image-locks").iterdir()) == []
    assert tempfile.gettempdir() != str(mine)


def test_builds_of_one_target_wait_for_each_other_and_leave_no_lock_file(tmp_path: Path) -> None:
    order: list[str] = []

    def build(name: str, hold: float) -> None:
        with _lock(tmp_path / "images.db", "reg.test/a:1"):
            order.append(f"{name}+")
            time.sleep(hold)
            order.append(f"{name}-")

    threads = [threading.Thread(target=build, args=(f"b{i}", 0.2)) for i in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert [order[i][-1] for i in range(6)] == ["+", "-"] * 3, order  # never two at once
    assert list((tmp_path / "image-locks").iterdir()) == []
    assert os.listdir(tmp_path) == ["image-locks"]


def test_the_build_context_is_never_whole_in_memory(tmp_path: Path, monkeypatch: Any) -> None:
    """The build process unpacks the uploaded context from its file (a context can be gigabytes): a 24 MB context
    costs it far less than 24 MB of memory."""
    import asyncio
    import tarfile
    import tracemalloc

    import flyte.images.registry
    from flyte.images import ImageBuilder
    from flyte.plugins import hookimpl
    from flyte.plugins.manager import isolated_plugins
    from flyte.remote import io
    from flyte_devbox import image_build
    from flyte_devbox.images import BUILDER_ENV, RECORDS_ENV
    from flyteidl2.core import literals_pb2
    from flyteidl2.imagebuilder import definition_pb2

    copied: list[int] = []

    class Recorder(ImageBuilder):
        name = "recorder"

        def check_available(self) -> str | None:
            return None

        def build(self, image: Any, *, push: bool = True, on_output: Any = None) -> str:
            [layer] = image.layers
            copied.append((layer.src / "big.bin").stat().st_size)
            return str(image.uri)

    class Hooks:
        @hookimpl
        def flyte_image_builders(self) -> list[type[ImageBuilder]]:
            return [Recorder]

    size = 24 * 2**20
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big.bin").write_bytes(os.urandom(size))
    with tarfile.open(tmp_path / "context.tar.gz", "w:gz", compresslevel=1) as tf:
        tf.add(tmp_path / "src" / "big.bin", arcname="layers/0/big.bin")
    spec = definition_pb2.ImageSpec(base_image="reg.test/base:1", layers=[definition_pb2.Layer(
        copy_config=definition_pb2.CopyConfig(src="layers/0", dst="/app"))])
    (tmp_path / "spec.pb").write_bytes(spec.SerializeToString())

    def s(v: str) -> Any:
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=v)))

    inputs = io.inputs_message({"spec": s(str(tmp_path / "spec.pb")), "context": s(str(tmp_path / "context.tar.gz")),
                                "target_image": s("reg.test/team/x:1")})
    (tmp_path / "inputs.pb").write_bytes(inputs.SerializeToString())
    monkeypatch.setenv(BUILDER_ENV, "recorder")
    monkeypatch.setenv(RECORDS_ENV, str(tmp_path / "data" / "images.db"))
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(flyte.images.registry, "manifest_exists", lambda uri: False)
    with isolated_plugins(("recorder", Hooks())):
        tracemalloc.start()
        try:
            assert asyncio.run(image_build.build(str(tmp_path / "inputs.pb"))) == "reg.test/team/x:1"
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert copied == [size]
    assert peak < size // 4, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.0f} MiB context"
