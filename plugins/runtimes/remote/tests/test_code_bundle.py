"""The deterministic code bundle: same files -> same bytes; ignore rules; size warning; upload skip."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tarfile
from pathlib import Path

import pytest
from flyte_remote.code_bundle import (
    BundleSizeWarning,
    UploadedBundles,
    build_bundle,
    bundle_files,
    parse_ignore,
    upload_bundle_to,
)

FILES = {
    "main.py": b"print('hi')\n",
    "pkg/__init__.py": b"",
    "pkg/util.py": b"X = 1\n" * 100,
    "pkg/deep/data.json": b'{"a": 1}',
    "run.sh": b"#!/bin/sh\necho hi\n",
    "z_last.txt": b"z",
}


def _make_tree(root: Path, order: list[str], mode: int, mtime: float) -> None:
    for rel in order:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(FILES[rel])
        os.chmod(p, 0o755 if rel.endswith(".sh") else mode)
        os.utime(p, (mtime, mtime))


def test_same_files_same_bytes_whatever_mtime_mode_and_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "proj", tmp_path / "b" / "proj"
    _make_tree(a, sorted(FILES), 0o644, 1_000_000)
    _make_tree(b, sorted(FILES, reverse=True), 0o600, 1_700_000_000)
    os.chmod(b / "pkg", 0o700)
    ba = build_bundle(a, tmp_path / "out-a")
    bb = build_bundle(b, tmp_path / "out-b")
    assert ba.md5 == bb.md5
    assert ba.path.read_bytes() == bb.path.read_bytes()
    assert ba.path.name == f"{ba.md5}.tar.gz"
    assert hashlib.md5(ba.path.read_bytes()).hexdigest() == ba.md5
    data = ba.path.read_bytes()
    assert data[:3] == b"\x1f\x8b\x08"
    assert data[3] & 0x08 == 0, "gzip header carries a file name"
    assert data[4:8] == b"\0\0\0\0", "gzip header carries a timestamp"
    with tarfile.open(ba.path) as tf:
        members = tf.getmembers()
    assert [m.name for m in members] == sorted(FILES)
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "")
        assert m.mode == (0o755 if m.name == "run.sh" else 0o644)


def test_content_change_changes_digest(tmp_path: Path) -> None:
    _make_tree(tmp_path / "p", sorted(FILES), 0o644, 0)
    first = build_bundle(tmp_path / "p", tmp_path / "out")
    (tmp_path / "p" / "main.py").write_bytes(b"print('bye')\n")
    assert build_bundle(tmp_path / "p", tmp_path / "out").md5 != first.md5


def _rels(root: Path) -> list[str]:
    return [f.rel for f in bundle_files(root)]


def _touch(root: Path, *rels: str) -> None:
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)


def test_gitignore_and_flyteignore_rules(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _touch(
        root,
        "main.py", "app.log", "keep.log", "logs/a.txt", "sub/x.log", "build/out.bin", "sub/build/kept.py",
        "sub/local.txt", "sub/other.txt", "other/local.txt", "secrets/key.pem", "docs/a/b/c.tmp", "docs/a.md",
        "data/file.csv", "notdata", "space .txt",
    )
    (root / ".gitignore").write_text(
        "# comment\n*.log\n!keep.log\n/build\nlogs/\ndata/\ndocs/**/*.tmp\nspace\\ .txt\n"
    )
    (root / "sub" / ".gitignore").write_text("local.txt\n")
    (root / ".flyteignore").write_text("secrets/\n")
    assert _rels(root) == [
        ".flyteignore", ".gitignore", "docs/a.md", "keep.log", "main.py", "notdata", "other/local.txt",
        "sub/.gitignore", "sub/build/kept.py", "sub/other.txt",
    ]


def test_flyteignore_can_reinclude_what_gitignore_excludes(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _touch(root, "model.bin", "other.bin")
    (root / ".gitignore").write_text("*.bin\n")
    (root / ".flyteignore").write_text("!model.bin\n")
    assert _rels(root) == [".flyteignore", ".gitignore", "model.bin"]


def test_dir_only_pattern_keeps_a_file_of_that_name(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _touch(root, "out", "x/out/y.py")
    (root / ".gitignore").write_text("out/\n")
    assert _rels(root) == [".gitignore", "out"]


def test_virtualenvs_caches_vcs_and_bytecode_are_left_out(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _touch(
        root, "main.py", "myenv/pyvenv.cfg", "myenv/lib/site.py", ".venv/bin/python",
        "pkg/__pycache__/m.cpython-311.pyc", "pkg/m.py", "pkg/m.pyc", ".git/HEAD", ".mypy_cache/x",
        ".pytest_cache/y", "pkg.egg-info/PKG-INFO", "node_modules/x.js",
    )
    assert _rels(root) == ["main.py", "pkg/m.py"]


def test_symlinks_inside_kept_as_files_outside_left_out(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _touch(root, "real.py")
    (tmp_path / "outside.txt").write_text("secret")
    (root / "inside_link.py").symlink_to(root / "real.py")
    (root / "outside_link.txt").symlink_to(tmp_path / "outside.txt")
    (root / "dir_link").symlink_to(root)
    bundle = build_bundle(root, tmp_path / "out")
    with tarfile.open(bundle.path) as tf:
        assert [(m.name, m.isreg()) for m in tf.getmembers()] == [("inside_link.py", True), ("real.py", True)]
        f = tf.extractfile("inside_link.py")
        assert f is not None and f.read() == b"real.py"


def test_bundle_extracts_safely_on_the_worker(tmp_path: Path) -> None:
    from flyte.remote.bundle import safe_extract

    _make_tree(tmp_path / "p", sorted(FILES), 0o644, 0)
    bundle = build_bundle(tmp_path / "p", tmp_path / "out")
    safe_extract(bundle.path, tmp_path / "dest")
    for rel, data in FILES.items():
        assert (tmp_path / "dest" / rel).read_bytes() == data
    assert os.access(tmp_path / "dest" / "run.sh", os.X_OK)


def test_bundle_output_folder_inside_the_root_is_not_bundled(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _touch(root, "main.py")
    first = build_bundle(root, root / "bundles")
    second = build_bundle(root, root / "bundles")
    assert first.md5 == second.md5 and second.files == 1


def test_size_warning_names_the_biggest_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    _touch(root, "small.py")
    (root / "big.bin").write_bytes(b"x" * 300_000)
    (root / "mid.bin").write_bytes(b"x" * 200_000)
    monkeypatch.setenv("FLYTE_BUNDLE_WARN_MB", "0.25")
    with pytest.warns(BundleSizeWarning, match=r"big\.bin \(293\.0 KiB\), mid\.bin.*\.flyteignore"):
        build_bundle(root, tmp_path / "out")
    monkeypatch.setenv("FLYTE_BUNDLE_WARN_MB", "10")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", BundleSizeWarning)
        build_bundle(root, tmp_path / "out")


def test_parse_ignore_escapes_and_anchors() -> None:
    rules = parse_ignore(["\\#notcomment", "\\!bang", "a/b", "**/deep", "x/**"])
    paths = ("#notcomment", "!bang", "a/b", "q/a/b", "r/s/deep", "x/y/z")
    matched = [[bool(r.regex.match(p)) for r in rules] for p in paths]
    assert matched == [
        [True, False, False, False, False],
        [False, True, False, False, False],
        [False, False, True, False, False],
        [False, False, False, False, False],
        [False, False, False, True, False],
        [False, False, False, False, True],
    ]


# ---------------------------------------------------------------- upload (real devbox)


@pytest.mark.slow
def test_upload_then_skip_when_the_digest_is_there(devbox: object, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from flyte.admin import AdminSettings, connect

    monkeypatch.delenv("FLYTE_BUNDLE_CACHE", raising=False)
    _make_tree(tmp_path / "p", sorted(FILES), 0o644, 0)
    bundle = build_bundle(tmp_path / "p", tmp_path / "out")
    cache = UploadedBundles(tmp_path / "home" / "code-bundles.json")
    settings = AdminSettings.from_config(endpoint=devbox.endpoint, insecure=True)  # type: ignore[attr-defined]

    async def go() -> list[object]:
        async with await connect(settings) as client:
            kw = dict(org="", project="flytesnacks", domain="development", cache=cache)
            first = await upload_bundle_to(client.dataproxy, bundle, **kw)  # type: ignore[arg-type]
            second = await upload_bundle_to(client.dataproxy, bundle, **kw)  # type: ignore[arg-type]
            monkeypatch.setenv("FLYTE_BUNDLE_CACHE", "0")
            third = await upload_bundle_to(client.dataproxy, bundle, **kw)  # type: ignore[arg-type]
            return [first, second, third]

    first, second, third = asyncio.run(go())
    assert (first.skipped, second.skipped, third.skipped) == (False, True, False)  # type: ignore[attr-defined]
    url = first.native_url  # type: ignore[attr-defined]
    assert url == second.native_url == third.native_url  # type: ignore[attr-defined]
    assert bundle.md5 in url and url.endswith("code.tar.gz")
    assert hashlib.md5(Path(url).read_bytes()).hexdigest() == bundle.md5  # the devbox's local store: a path


def test_long_and_non_ascii_names_and_a_big_file_round_trip(tmp_path: Path) -> None:
    import gzip

    root = tmp_path / "proj"
    long_rel = "/".join(["d" * 40] * 4) + "/module_with_a_long_name.py"
    names = {long_rel: b"long", "données/é.py": b"accent", "big.bin": os.urandom(3 * 1024 * 1024 + 7)}
    for rel, data in names.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    bundle = build_bundle(root, tmp_path / "out")
    gzip.decompress(bundle.path.read_bytes())  # CRC and length in the trailer are right
    with tarfile.open(bundle.path) as tf:
        got = {m.name: tf.extractfile(m).read() for m in tf.getmembers()}  # type: ignore[union-attr]
    assert got == names


def test_day_old_bundles_in_the_shared_folder_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    shared = tmp_path / "tmp" / "flyte-bundles"
    shared.mkdir()
    old, fresh = shared / "old.tar.gz", shared / "fresh.tar.gz"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (1_000_000, 1_000_000))
    _make_tree(tmp_path / "p", sorted(FILES), 0o644, 0)
    bundle = build_bundle(tmp_path / "p")
    assert bundle.path.parent == shared
    assert not old.exists() and fresh.exists() and bundle.path.exists()


def test_size_warning_names_no_python_source_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`flyte run` builds the bundle in a worker thread: the warning was attributed to
    concurrent/futures/thread.py with its `result = self.fn(...)` line under it."""
    import asyncio
    import warnings

    root = tmp_path / "proj"
    _touch(root, "small.py")
    (root / "big.bin").write_bytes(b"x" * 300_000)
    monkeypatch.setenv("FLYTE_BUNDLE_WARN_MB", "0.25")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(asyncio.to_thread(build_bundle, root, tmp_path / "out"))
    (w,) = [w for w in caught if issubclass(w.category, BundleSizeWarning)]
    assert w.filename == "<flyte code bundle>" and w.lineno == 0


def test_gitignore_of_the_enclosing_repository_is_honoured(tmp_path: Path) -> None:
    """The bundle root is often a folder of a git repository: the repository's own .gitignore files
    above it apply (git's rules), e.g. a root `.env` or `*.log` rule; folders outside a repository
    contribute nothing."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".gitignore").write_text("*.log\n.env\n/app/top_only.txt\n")
    (repo / "app" / ".gitignore").parent.mkdir()
    _touch(repo / "app", "main.py")
    _touch(repo / "app", "run.log")
    _touch(repo / "app", ".env")
    _touch(repo / "app", "top_only.txt")
    _touch(repo / "app" / "sub", "deep.log")
    _touch(repo / "app" / "sub", "keep.py")
    (repo / "app" / ".flyteignore").write_text("!run.log\n")  # deeper files win
    assert [f.rel for f in bundle_files(repo / "app")] == [".flyteignore", "main.py", "run.log", "sub/keep.py"]
    (tmp_path / ".gitignore").write_text("*.py\n")  # above the repository: not git's business
    assert "main.py" in [f.rel for f in bundle_files(repo / "app")]


def test_a_repository_root_bundle_ignores_rules_above_it(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("*.py\n")  # another repository's rules
    repo = tmp_path / "inner"
    (repo / ".git").mkdir(parents=True)
    _touch(repo, "main.py", "..odd/x.py")
    assert [f.rel for f in bundle_files(repo)] == ["..odd/x.py", "main.py"]
