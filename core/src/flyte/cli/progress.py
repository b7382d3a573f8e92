"""A live count of actions by phase, shown for runs with many actions."""

from __future__ import annotations

import threading
import time
from typing import Any

SHOW_AFTER_ACTIONS = 20
SHOW_AFTER_SECONDS = 1.0


class RunProgress:
    """Counts action events; starts a rich live display once the run is big or slow enough."""

    def __init__(self, run_label: str, enabled: bool = True) -> None:
        self.label = run_label
        self.enabled = enabled
        self.started = time.monotonic()
        self.seen = 0
        self.running = 0
        self.succeeded = 0
        self.failed = 0
        self.cached = 0
        self._live: Any = None
        self._lock = threading.Lock()

    def __call__(self, event: str, rec: Any) -> None:
        if event == "running":
            if rec.attempts <= 1:
                self.seen += 1
            self.running += 1
        elif event == "succeeded":
            self.running -= 1
            self.succeeded += 1
        elif event == "failed":
            self.running -= 1
            self.failed += 1
        elif event == "cached":
            self.seen += 1
            self.cached += 1
        if self._live is None and self.enabled and (
            self.seen >= SHOW_AFTER_ACTIONS or time.monotonic() - self.started > SHOW_AFTER_SECONDS
        ):
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._live is not None:
                return
            from rich.console import Console
            from rich.live import Live

            self._live = Live(get_renderable=self._render, console=Console(stderr=True), refresh_per_second=4,
                              transient=True)
            self._live.start()

    def _render(self) -> Any:
        from rich.text import Text

        elapsed = time.monotonic() - self.started
        t = Text()
        t.append(f"{self.label} ", style="bold")
        t.append(f"{elapsed:5.1f}s  ")
        t.append(f"running {max(self.running, 0)}  ", style="cyan")
        t.append(f"succeeded {self.succeeded}  ", style="green")
        if self.cached:
            t.append(f"cached {self.cached}  ", style="blue")
        t.append(f"failed {self.failed}", style="red" if self.failed else "dim")
        return t

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def summary(self) -> str:
        parts = [f"{self.succeeded} succeeded"]
        if self.cached:
            parts.append(f"{self.cached} cached")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts)


__all__ = ["RunProgress"]
