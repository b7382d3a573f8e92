"""Local files a run's inputs name (``File``/``Dir`` made from local paths, large pickled values) go to the
control plane's storage through DataProxy signed URLs, so the workers can read them wherever they run."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from typing import Any

from flyte.storage.data_access import DataAccess


class DataProxyAccess(DataAccess):
    """A :class:`DataAccess` whose uploads are content-addressed DataProxy uploads (see the module docstring)."""

    def __init__(self, client: Any, project: str, domain: str, org: str, timeout: float = 30.0) -> None:
        super().__init__("")
        from flyte.storage.dataproxy import DataProxyClient, StubAdapter

        self.dp = DataProxyClient(StubAdapter(client.dataproxy, timeout=timeout), project=project, domain=domain,
                                  org=org)

    def __repr__(self) -> str:
        return f"DataProxyAccess({self.dp.project}/{self.dp.domain})"

    def holds(self, path: str) -> bool:
        return False

    async def upload(self, local_path: str, name: str | None = None) -> str:
        local = os.path.abspath(local_path.removeprefix("file://"))
        base = name or os.path.basename(local.rstrip(os.sep))
        if not os.path.isdir(local):
            return (await self.dp.upload_file(local, filename=base)).native_url
        files = sorted(
            os.path.relpath(os.path.join(d, f), local) for d, _, fs in os.walk(local) for f in fs
        )
        if not files:
            raise ValueError(f"Dir {local} is empty; an empty folder cannot be uploaded as a run's input")
        digest = hashlib.md5(usedforsecurity=False)
        for rel in files:
            digest.update(rel.encode() + b"\0" + str(os.path.getsize(os.path.join(local, rel))).encode() + b"\0")
        root = digest.hexdigest()
        rels = [rel.replace(os.sep, "/") for rel in files]
        uploaded = await asyncio.gather(*(
            self.dp.upload_file(os.path.join(local, rel), filename=f"{base}/{posix}", filename_root=root)
            for rel, posix in zip(files, rels, strict=True)
        ))
        first, rel0 = uploaded[0].native_url, rels[0]
        return first[: -len(rel0) - 1]

    def upload_sync(self, local_path: str, name: str | None = None) -> str:
        raise RuntimeError(
            "a run's inputs are encoded asynchronously; File.from_local_sync() inside the submitting code "
            "cannot upload through the control plane. Pass a local path (File.from_local) instead."
        )

    async def write_bytes(self, data: bytes, name: str | None = None) -> str:
        with tempfile.TemporaryDirectory(prefix="flyte-input-") as d:
            path = os.path.join(d, name or hashlib.md5(data, usedforsecurity=False).hexdigest())
            with open(path, "wb") as f:
                f.write(data)
            return (await self.dp.upload_file(path)).native_url
