"""Cache keys of task calls: a digest of the task, its cache version and its input literals."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Container, Mapping
from typing import Any


def inputs_digest(serialized: Mapping[str, bytes]) -> str:
    """A digest of already-serialized (deterministic) input literals; equals ``literals_hash`` of them."""
    parts: list[bytes] = []
    for k in sorted(serialized):
        data = serialized[k]
        parts.append(b"%s\0%d\0" % (k.encode(), len(data)))
        parts.append(data)
    return hashlib.sha256(b"".join(parts)).hexdigest()


def content_digest(path: str) -> str:
    """sha256 of a local file's content, or of a folder's relative names and contents."""
    h = hashlib.sha256()
    if os.path.isfile(path):
        files = [("", path)]
    else:
        files = sorted(
            (os.path.relpath(os.path.join(root, f), path), os.path.join(root, f))
            for root, _, names in os.walk(path)
            for f in names
        )
    for rel, full in files:
        h.update(rel.encode() + b"\0")
        try:
            with open(full, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        except OSError:
            h.update(b"<unreadable>")
    return h.hexdigest()


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def has_local_blob(lit: Any) -> bool:
    kind = lit.WhichOneof("value")
    if kind == "collection":
        return any(has_local_blob(x) for x in lit.collection.literals)
    if kind == "map":
        return any(has_local_blob(x) for x in lit.map.literals.values())
    if kind == "scalar":
        which = lit.scalar.WhichOneof("value")
        if which == "blob":  # also a blob with a hash (file_cache_key=, dir_cache_key=): keyed by that hash
            return _is_local(lit.scalar.blob.uri) or bool(lit.hash)
        if which == "union":
            return has_local_blob(lit.scalar.union.value)
    return False


def _rewrite(lit: Any) -> None:
    kind = lit.WhichOneof("value")
    if kind == "collection":
        for x in lit.collection.literals:
            _rewrite(x)
    elif kind == "map":
        for x in lit.map.literals.values():
            _rewrite(x)
    elif kind == "scalar":
        which = lit.scalar.WhichOneof("value")
        if which == "blob" and lit.hash:  # the File/Dir's own hash, as the official SDK keys it
            lit.scalar.blob.uri = "hash:" + lit.hash
        elif which == "blob" and _is_local(lit.scalar.blob.uri):
            lit.scalar.blob.uri = "sha256:" + content_digest(lit.scalar.blob.uri.removeprefix("file://"))
        elif which == "union":
            _rewrite(lit.scalar.union.value)


def content_keyed(lits: Mapping[str, Any]) -> dict[str, Any] | None:
    """Copies of ``lits`` whose local File/Dir URIs are replaced by a digest of their content.

    Used for cache keys: the same bytes hit the cache whatever path they sit at (a file a parent
    wrote under this run's data folder, a file edited in place). ``None`` when nothing is local.
    """
    if not any(has_local_blob(v) for v in lits.values()):
        return None
    out = {}
    for k, v in lits.items():
        if has_local_blob(v):
            copy = type(v)()
            copy.CopyFrom(v)
            _rewrite(copy)
            out[k] = copy
        else:
            out[k] = v
    return out


def cache_inputs_digest(lits: Mapping[str, Any], serialized: Mapping[str, bytes],
                        ignored: Container[str] = ()) -> str:
    """The inputs part of a cache key: from the action's serialized literals, unless local File/Dir inputs
    must be keyed by content (then those literals are rewritten and serialized again)."""
    if ignored:
        lits = {k: v for k, v in lits.items() if k not in ignored}
        serialized = {k: v for k, v in serialized.items() if k not in ignored}
    by_content = content_keyed(lits)
    if by_content is None:
        return inputs_digest(serialized)
    return inputs_digest({k: v.SerializeToString(deterministic=True) for k, v in by_content.items()})
