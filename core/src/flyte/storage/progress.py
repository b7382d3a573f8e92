"""Progress reporting for transfers: a tiny callback protocol, off by default.

Library code passes ``progress=`` to :func:`flyte.storage.put` / :func:`~flyte.storage.get`
(any object with the methods of :class:`Progress`). The CLI turns on a rich progress bar
for every transfer with :func:`enable_cli_progress`; it appears only once a transfer has
run for ``delay`` seconds, so quick copies print nothing.

Example::

    class Count:
        def __init__(self): self.n = 0
        def start(self, description, total_bytes, total_files): pass
        def advance(self, nbytes): self.n += nbytes
        def finish(self): pass

    await flyte.storage.put("big.bin", "s3://bucket/big.bin", progress=Count())
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Progress(Protocol):
    """Receives transfer events. Methods may be called from another thread."""

    def start(self, description: str, total_bytes: int | None, total_files: int) -> None: ...

    def advance(self, nbytes: int) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    def start(self, description: str, total_bytes: int | None, total_files: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def finish(self) -> None:
        pass


class RichProgress:
    """A rich progress bar that shows itself only after ``delay`` seconds."""

    def __init__(self, delay: float = 2.0, console: Any = None) -> None:
        self.delay = delay
        self._console = console
        self._lock = threading.Lock()
        self._started_at = 0.0
        self._done = 0
        self._total: int | None = None
        self._description = ""
        self._bar: Any = None
        self._task: Any = None

    def start(self, description: str, total_bytes: int | None, total_files: int) -> None:
        self._description = description + (f" ({total_files} files)" if total_files > 1 else "")
        self._total = total_bytes
        self._done = 0
        self._started_at = time.monotonic()

    def advance(self, nbytes: int) -> None:
        with self._lock:
            self._done += nbytes
            if self._bar is None and time.monotonic() - self._started_at >= self.delay:
                self._open()
            if self._bar is not None:
                self._bar.update(self._task, completed=self._done)

    def _open(self) -> None:
        from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn
        from rich.progress import Progress as RProgress

        self._bar = RProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self._console,
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(self._description, total=self._total, completed=self._done)

    def finish(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.stop()
                self._bar = None


_default_factory: Callable[[], Progress] | None = None


def enable_cli_progress(enabled: bool = True, delay: float = 2.0) -> None:
    """Show a rich progress bar for every transfer of this process (the CLI calls this)."""
    global _default_factory
    _default_factory = (lambda: RichProgress(delay=delay)) if enabled else None


def resolve(progress: Progress | bool | None) -> Progress:
    """``None``: the process default (off unless the CLI enabled it); ``True``: a rich bar; ``False``: none."""
    if progress is None:
        return _default_factory() if _default_factory is not None else NoProgress()
    if progress is True:
        return RichProgress()
    if progress is False:
        return NoProgress()
    return progress


class FsspecCallback:
    """Adapts a :class:`Progress` to fsspec's ``callback=`` argument (only deltas matter)."""

    def __new__(cls, progress: Progress) -> Any:
        from fsspec.callbacks import Callback

        class _CB(Callback):
            def __init__(self) -> None:
                super().__init__()
                self._last = 0

            def call(self, *args: Any, **kwargs: Any) -> None:
                delta = self.value - self._last
                self._last = self.value
                if delta > 0:
                    progress.advance(delta)

            def relative_update(self, inc: int = 1) -> None:
                self.value += inc
                self.call()

            def absolute_update(self, value: int) -> None:
                self.value = value
                self.call()

        return _CB()
