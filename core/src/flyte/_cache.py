"""Task output caching: which runs of a task count as the same."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

CacheBehavior = Literal["auto", "override", "disable", "enabled"]

# What the official SDK also accepts for a behavior (any case), so `cache="on"` / `cache="off"` keep working.
_ALIASES = {"enable": "auto", "enabled": "auto", "on": "auto", "true": "auto", "yes": "auto",
            "off": "disable", "false": "disable", "no": "disable", "none": "disable"}


def _canonical(behavior: object) -> object:
    if isinstance(behavior, str) and behavior not in ("auto", "override", "disable"):
        return _ALIASES.get(behavior.lower(), behavior)
    return behavior


@dataclass(frozen=True)
class Cache:
    """Cache a task's outputs, keyed by task, cache version and inputs.

    ``behavior="auto"`` derives the version from the task's source code, so
    editing the function invalidates the cache; ``"override"`` uses
    ``version_override``. ``ignored_inputs`` are left out of the key.

    Example::

        @env.task(cache=flyte.Cache(behavior="override", version_override="v2", ignored_inputs=("verbose",)))
        async def featurize(path: str, verbose: bool = False) -> int: ...
    """

    behavior: CacheBehavior = "auto"
    version_override: str | None = None
    serialize: bool = False
    ignored_inputs: tuple[str, ...] | str = field(default_factory=tuple)
    salt: str = ""
    policies: object | None = None
    max_age: object | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "behavior", _canonical(self.behavior))
        if self.behavior not in ("auto", "override", "disable"):
            raise ValueError(f"Cache behavior must be auto, override or disable (or one of the aliases "
                             f"{', '.join(sorted(_ALIASES))}), got {self.behavior!r}")
        if self.behavior == "override" and not self.version_override:
            raise ValueError("Cache(behavior='override') needs version_override")
        if isinstance(self.ignored_inputs, str):
            object.__setattr__(self, "ignored_inputs", (self.ignored_inputs,))

    @property
    def enabled(self) -> bool:
        return self.behavior != "disable"

    def version_for(self, source: str) -> str:
        if self.version_override:
            return self.version_override
        return hashlib.sha256((source + "\0" + self.salt).encode()).hexdigest()[:32]


CacheRequest = CacheBehavior | Cache | bool


def normalize_cache(req: CacheRequest | None) -> Cache:
    if isinstance(req, str):
        req = _canonical(req)  # type: ignore[assignment]
    if req is None or req is False or req == "disable":
        return Cache(behavior="disable")
    if req is True or req in ("auto", "enabled"):
        return Cache(behavior="auto")
    if isinstance(req, Cache):
        return req
    if req == "override":
        raise ValueError("cache='override' needs flyte.Cache(behavior='override', version_override=...)")
    raise ValueError(f"cache must be 'auto', 'disable', True/False or flyte.Cache(...) (or one of the aliases "
                     f"{', '.join(sorted(_ALIASES))}), got {req!r}")
