"""Docker's .dockerignore rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from flyte.images.ignore import IgnoreRules, list_files


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        (["*.log"], "a.log", True),
        (["*.log"], "dir/a.log", False),  # * does not cross folders
        (["**/*.log"], "dir/sub/a.log", True),
        (["dir"], "dir/sub/a.py", True),  # a matched folder excludes its content
        (["/dir/"], "dir/a.py", True),
        (["dir/*.py", "!dir/keep.py"], "dir/keep.py", False),
        (["dir/*.py", "!dir/keep.py"], "dir/drop.py", True),
        (["!keep.py", "*.py"], "keep.py", True),  # last match wins
        (["a?.txt"], "ab.txt", True),
        (["a?.txt"], "a/.txt", False),
        (["[ab].txt"], "b.txt", True),
        (["# comment", ""], "# comment", False),
        (["docs/**"], "docs/x/y.md", True),
        (["**"], "anything/at/all", True),
    ],
)
def test_patterns(patterns: list[str], path: str, ignored: bool) -> None:
    assert IgnoreRules(patterns, defaults=False).ignored(path) is ignored


def test_defaults_skip_caches_but_can_be_overridden() -> None:
    rules = IgnoreRules([])
    assert rules.ignored("pkg/__pycache__/m.cpython-311.pyc")
    assert rules.ignored(".git/HEAD")
    assert not rules.ignored("pkg/m.py")
    assert not IgnoreRules(["!**/*.pyc"]).ignored("m.pyc")


def test_listing_sorted_relative_and_pruned(tmp_path: Path) -> None:
    for rel in ["b.py", "a/z.py", "a/b/c.py", "node_modules/x/y.js", ".git/HEAD"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    names = [rel for rel, _ in list_files(tmp_path, IgnoreRules(["node_modules"]))]
    assert names == ["a/b/c.py", "a/z.py", "b.py"]
