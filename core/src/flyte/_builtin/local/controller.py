"""Older import path of the in-process controller; it lives in :mod:`flyte.runtime.controller`."""

from __future__ import annotations

from flyte.runtime.body import MAX_RUNNING_SYNC_BODIES
from flyte.runtime.cache_keys import content_digest as _content_digest
from flyte.runtime.cache_keys import content_keyed
from flyte.runtime.controller import DEFAULT_MAX_CONCURRENCY, InProcessController

LocalController = InProcessController

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "MAX_RUNNING_SYNC_BODIES",
    "InProcessController",
    "LocalController",
    "_content_digest",
    "content_keyed",
]
