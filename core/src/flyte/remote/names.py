"""Names on the control plane: deterministic names of child actions, and phase names.

The same parent, task, inputs and call order give the same name, so a parent that is retried
(a new attempt of the same action) enqueues children under the names they already have: the
control plane answers "exists" and the parent re-attaches to them, taking the outputs of those
that finished instead of running them again.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any


def inputs_digest(serialized: Mapping[str, bytes]) -> str:
    """A digest of the child's inputs (each literal serialized deterministically), order-independent."""
    h = hashlib.sha256()
    for name in sorted(serialized):
        h.update(name.encode())
        h.update(b"\0")
        h.update(hashlib.sha256(serialized[name]).digest())
    return h.hexdigest()


def child_action_name(parent: str, task_identity: str, inputs_digest: str, seq: int) -> str:
    """``a`` + 20 base32 characters of a hash of (parent, task, inputs, how many such calls came before)."""
    raw = hashlib.sha256(f"{parent}\0{task_identity}\0{inputs_digest}\0{seq}".encode()).digest()
    return "a" + base64.b32encode(raw).decode().rstrip("=").lower()[:20]


def cache_key(task_name: str, cache_version: str, lits: Mapping[str, Any], ignored: str | tuple[str, ...] = ()) -> str:
    """The key under which the backend caches a child action's outputs (``TaskAction.cache_key``)."""
    skip = {ignored} if isinstance(ignored, str) else set(ignored)
    digest = inputs_digest({k: v.SerializeToString(deterministic=True) for k, v in lits.items() if k not in skip})
    return hashlib.sha256(f"{task_name}\0{cache_version}\0{digest}".encode()).hexdigest()


def phase_name(phase: int) -> str:
    """``ACTION_PHASE_SUCCEEDED`` -> ``SUCCEEDED``; a phase this flyteidl2 does not know prints as its number."""
    from flyteidl2.common import phase_pb2

    try:
        return str(phase_pb2.ActionPhase.Name(phase)).removeprefix("ACTION_PHASE_")
    except ValueError:
        return str(phase)
