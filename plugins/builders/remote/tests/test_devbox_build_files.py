"""The devbox's build process leaves nothing behind: its temporary files and lock files, also those of a build
that was killed (an abort is SIGKILL), are removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

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
