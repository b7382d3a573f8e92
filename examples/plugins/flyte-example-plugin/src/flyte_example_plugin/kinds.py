"""One small implementation of each interface, written only against flyte's public plugin API."""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Callable
from typing import Any

from flyte.admin import AdminSettings
from flyte.plugins import AdminTransport, ImageBuilder, Runtime, StorageBackend
from flyte.runtime import ActionOutputs, Phase, RunHandle, RunOptions


class MemoryStorage(StorageBackend):
    name = "memory"
    protocols = ("memory",)

    def create_filesystem(self) -> Any:
        import fsspec

        return fsspec.filesystem("memory")


class ManifestBuilder(ImageBuilder):
    """Writes what would be built to $FLYTE_EXAMPLE_MANIFEST_DIR instead of building it."""

    name = "manifest"

    def check_available(self) -> str | None:
        if not os.environ.get("FLYTE_EXAMPLE_MANIFEST_DIR"):
            return "set FLYTE_EXAMPLE_MANIFEST_DIR to a folder to write manifests to"
        return None

    def _path(self, uri: str) -> str:
        safe = hashlib.sha256(uri.encode()).hexdigest()[:16]
        return os.path.join(os.environ["FLYTE_EXAMPLE_MANIFEST_DIR"], f"{safe}.txt")

    def exists(self, uri: str) -> bool:
        return os.path.exists(self._path(uri))

    def build(self, image: Any, *, push: bool = True, on_output: Callable[[str], None] | None = None) -> str:
        uri = f"example.local/{getattr(image, 'name', 'image')}:{hashlib.sha256(repr(image).encode()).hexdigest()[:12]}"
        with open(self._path(uri), "w") as f:
            f.write(repr(image))
        if on_output:
            on_output(f"wrote manifest for {uri}")
        return uri


class _DoneHandle(RunHandle):
    def __init__(self, name: str, value: Any, error: BaseException | None) -> None:
        self.name = name
        self._value = value
        self.error = error

    @property
    def phase(self) -> Phase:
        return Phase.FAILED if self.error else Phase.SUCCEEDED

    async def wait_async(self) -> None:
        return None

    async def outputs_async(self) -> ActionOutputs:
        if self.error:
            raise self.error
        return ActionOutputs(self._value if isinstance(self._value, tuple) else (self._value,))


class InlineRuntime(Runtime):
    """Runs the task body as a plain call: no controller, no literals (a debugging aid)."""

    name = "inline"
    description = "calls the task function directly (example plugin)"

    async def submit(self, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any], options: RunOptions) -> RunHandle:
        try:
            value = task.func(*args, **kwargs)
            if inspect.isawaitable(value):
                value = await value
            return _DoneHandle(options.name or "inline", value, None)
        except Exception as e:
            return _DoneHandle(options.name or "inline", None, e)


class ExampleTransport(AdminTransport):
    name = "example"

    async def connect(self, settings: AdminSettings) -> Any:
        class Client:
            def ping(self) -> str:
                return f"pong from {settings.target}"

            async def close(self) -> None:
                pass

        return Client()
