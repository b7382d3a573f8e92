"""``.dockerignore`` matching with Docker's rules, and the sorted file listing built on it.

Rules (as the Docker engine applies them): blank lines and ``#`` comments are skipped; a leading
``/`` is dropped; ``*`` and ``?`` do not cross ``/``; ``**`` matches any number of folders; a
pattern that matches a folder excludes everything in it; ``!pattern`` re-includes; the last
pattern that matches a path (or one of its parent folders) decides.

A few patterns are always applied first (bytecode caches, VCS and tool caches) because they
change between runs without changing the program; a user ``!pattern`` can bring them back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATTERNS: tuple[str, ...] = (
    "**/__pycache__",
    "**/*.pyc",
    "**/*.pyo",
    "**/.git",
    "**/.mypy_cache",
    "**/.pytest_cache",
    "**/.ruff_cache",
    "**/.DS_Store",
)


@dataclass(frozen=True)
class _Pattern:
    text: str
    regex: re.Pattern[str]
    exclusion: bool


def _compile(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                if body.startswith("!") or body.startswith("^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    out.append("$")
    return re.compile("".join(out))


def _clean(p: str) -> str:
    p = os.path.normpath(p.replace("\\", "/")).replace(os.sep, "/")
    return p.lstrip("/") or "."


class IgnoreRules:
    """A compiled ``.dockerignore``: ``rules.ignored("a/b.py")`` with paths relative to the root."""

    def __init__(self, lines: Iterable[str] = (), *, defaults: bool = True) -> None:
        self.patterns: list[_Pattern] = []
        for raw in (*(DEFAULT_PATTERNS if defaults else ()), *lines):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            if exclusion:
                line = line[1:].strip()
                if not line:
                    continue
            cleaned = _clean(line)
            if cleaned == ".":
                continue
            self.patterns.append(_Pattern(cleaned, _compile(cleaned), exclusion))
        self.has_exclusions = any(p.exclusion for p in self.patterns)
        # Without '!' patterns an ignored folder is never entered, so a path is kept exactly when
        # no pattern matches the path itself: one combined regex answers that.
        self._any: re.Pattern[str] | None = None
        if not self.has_exclusions and self.patterns:
            self._any = re.compile("|".join(f"(?:{p.regex.pattern})" for p in self.patterns))

    @classmethod
    def from_file(cls, path: Path | None) -> IgnoreRules:
        if path is None or not path.is_file():
            return cls()
        return cls(path.read_text(encoding="utf-8", errors="replace").splitlines())

    def hits(self, rel: str, parent: tuple[bool, ...] | None) -> tuple[bool, ...]:
        """For each pattern, whether it matches ``rel`` or one of its parent folders, given the
        same answer for the parent folder (``None`` at the root)."""
        if parent is None:
            return tuple(p.regex.match(rel) is not None for p in self.patterns)
        return tuple(h or p.regex.match(rel) is not None for h, p in zip(parent, self.patterns, strict=True))

    def decide(self, hits: tuple[bool, ...]) -> bool:
        """Ignored when the last pattern that hit is not a ``!`` pattern."""
        for hit, p in zip(reversed(hits), reversed(self.patterns), strict=True):
            if hit:
                return not p.exclusion
        return False

    def ignored(self, rel: str) -> bool:
        parts = rel.split("/")
        hits: tuple[bool, ...] | None = None
        for i in range(len(parts)):
            hits = self.hits("/".join(parts[: i + 1]), hits)
        return self.decide(hits or ())


def list_files(root: Path, rules: IgnoreRules) -> list[tuple[str, os.DirEntry[str]]]:
    """Every file and symlink under ``root`` that ``rules`` keeps, as (relative POSIX path, entry),
    sorted by path. Folders that are ignored are not entered unless a ``!`` pattern could re-include
    something inside them."""
    out: list[tuple[str, os.DirEntry[str]]] = []
    if not rules.patterns or rules._any is not None:
        return _list_files_simple(root, rules._any)
    stack: list[tuple[str, str, tuple[bool, ...] | None]] = [(str(root), "", None)]
    while stack:
        path, prefix, parent_hits = stack.pop()
        with os.scandir(path) as it:
            for entry in it:
                rel = prefix + entry.name
                hits = rules.hits(rel, parent_hits)
                if entry.is_dir(follow_symlinks=False):
                    if rules.decide(hits) and not rules.has_exclusions:
                        continue
                    stack.append((entry.path, rel + "/", hits))
                elif not rules.decide(hits):
                    out.append((rel, entry))
    out.sort(key=lambda t: t[0])
    return out


def _list_files_simple(root: Path, any_pattern: re.Pattern[str] | None) -> list[tuple[str, os.DirEntry[str]]]:
    match = any_pattern.match if any_pattern is not None else None
    out: list[tuple[str, os.DirEntry[str]]] = []
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        path, prefix = stack.pop()
        with os.scandir(path) as it:
            for entry in it:
                rel = prefix + entry.name
                if match is not None and match(rel):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + "/"))
                else:
                    out.append((rel, entry))
    out.sort(key=lambda t: t[0])
    return out
