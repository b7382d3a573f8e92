"""StorageBackend keeps the filesystem it makes: once per backend, once per key a URL selects."""

from __future__ import annotations

import threading
import time
from typing import Any

from flyte.storage.backend import StorageBackend


class _Made:
    def __init__(self, key: str | None) -> None:
        self.key = key


class _Counting(StorageBackend):
    name = "counting"
    protocols = ("counting",)

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.made: list[str | None] = []

    def create_filesystem(self) -> Any:
        time.sleep(0.01)  # widen the window in which two threads could both make one
        self.made.append(None)
        return _Made(None)

    def create_filesystem_for(self, url: str) -> Any:
        key = self.filesystem_key(url)
        self.made.append(key)
        return _Made(key)

    def filesystem_key(self, url: str) -> str | None:
        host = url.split("://", 1)[1].split("/", 1)[0]
        return host.split("@", 1)[1] if "@" in host else None


def test_made_once_and_reused_across_threads() -> None:
    b = _Counting()
    seen: list[Any] = []
    threads = [threading.Thread(target=lambda: seen.append(b.filesystem())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.made == [None]
    assert all(fs is seen[0] for fs in seen)
    assert b.filesystem_for("counting://bucket/key") is seen[0]  # no key: the backend's one


def test_one_filesystem_per_key() -> None:
    b = _Counting()
    a1 = b.filesystem_for("counting://c@acct1/x")
    a2 = b.filesystem_for("counting://d@acct1/y")
    other = b.filesystem_for("counting://c@acct2/x")
    assert a1 is a2 and a1.key == "acct1"
    assert other is not a1 and other.key == "acct2"
    assert b.made == ["acct1", "acct2"]


def test_backends_do_not_share_filesystems() -> None:
    assert _Counting().filesystem() is not _Counting().filesystem()
