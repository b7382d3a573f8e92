"""Images on the devbox: ``ImageService.GetImage`` and the system task that builds images.

The wire shape is the official remote builder's: a client asks ``GetImage`` for ``name:tag`` (the last
path component of the repository and the content-hash tag) and gets the fully qualified image name
back, or NOT_FOUND; to build, it runs the task ``build-image`` of project ``system``, domain
``production`` (``FLYTE_IMAGEBUILDER_TASK_DOMAIN``) with three string inputs: ``spec`` (the URI of a
serialized ``flyteidl2.imagebuilder.ImageSpec``), ``context`` (the URI of a gzipped tarball of the
files the layers copy, or empty) and ``target_image``; its one output is the pushed image's name.

With ``flyte devbox serve --image-builder docker|podman`` the devbox deploys that task at start-up. Its
container runs :mod:`flyte_devbox.image_build` as a subprocess on the devbox's host (never in a
container: see :func:`runs_on_host`), which builds with that local builder plugin and pushes with the
registry credentials the devbox has (flyte config, ``DOCKER_CONFIG``). Every image it built or found is
recorded in ``DATA/images.db``; ``GetImage`` answers from those records after checking that the
registry still has the image. A devbox without ``--image-builder`` answers every use of the build task
with FAILED_PRECONDITION saying how to enable it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from connectrpc.code import Code
from flyteidl2.imagebuilder import service_connect as isc

from flyte_devbox.convert import fail, require

if TYPE_CHECKING:
    from connectrpc.request import RequestContext
    from flyteidl2.imagebuilder import payload_pb2
    from flyteidl2.task import task_definition_pb2

    from flyte_devbox.core import Devbox

BUILD_TASK_NAME = "build-image"
BUILD_TASK_PROJECT = "system"
BUILD_TASK_DOMAIN = os.environ.get("FLYTE_IMAGEBUILDER_TASK_DOMAIN", "production")
BUILD_TASK_TYPE = "flyte-devbox-image-build"
"""``task_template.type`` of the build task: executors run it on the host, never in a container."""

BUILDER_ENV = "FLYTE_DEVBOX_IMAGE_BUILDER"
"""Set in the devbox's own environment (and so in its actions'): the builder plugin builds use."""
RECORDS_ENV = "FLYTE_DEVBOX_IMAGE_RECORDS"
"""Set likewise: the path of the image records database."""

NOT_ENABLED = (
    "this devbox does not build images; restart it with `flyte devbox serve --image-builder docker` "
    "(or podman; `flyte devbox start --image-builder ...` in the background), with that engine running on "
    "the devbox's host"
)


def is_build_task(project: str, domain: str, name: str) -> bool:
    return project == BUILD_TASK_PROJECT and name == BUILD_TASK_NAME


def runs_on_host(spec: task_definition_pb2.TaskSpec) -> bool:
    """Whether an action of ``spec`` must run as a host subprocess whatever the executor (the build task)."""
    return str(spec.task_template.type) == BUILD_TASK_TYPE


def check_enabled(box: Devbox, project: str, domain: str, name: str) -> None:
    """FAILED_PRECONDITION for the build task when this devbox builds no images."""
    if is_build_task(project, domain, name) and not box.settings.image_builder:
        fail(Code.FAILED_PRECONDITION, f"task {project}/{domain}/{name}: {NOT_ENABLED}")


def short_name(uri: str) -> str:
    """``host:5000/a/b:tag`` -> ``b:tag``: what the official client asks ``GetImage`` for (the reference is
    parsed as everywhere else, by :func:`flyte.images.credentials.split_reference`)."""
    from flyte.images.credentials import split_reference

    _host, repo, tag = split_reference(uri)
    return f"{repo.rsplit('/', 1)[-1]}:{tag}"


# -- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageRecord:
    fqin: str
    name: str
    builds: int  #: how many times this devbox built it (0: it was found in the registry)
    run: bytes | None  #: the build run's RunIdentifier
    updated_at: float


class ImageRecords:
    """``DATA/images.db``: the images this devbox built or found. Shared by the server and the build
    subprocesses (SQLite, WAL), so each call opens its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with self._conn() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS images(fqin TEXT PRIMARY KEY, name TEXT NOT NULL, builds INTEGER NOT NULL,"
                " run BLOB, updated_at REAL NOT NULL)"
            )
            c.execute("CREATE INDEX IF NOT EXISTS images_name ON images(name)")

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as c:
            c.execute("PRAGMA journal_mode=WAL")
            with c:
                yield c

    def put(self, fqin: str, *, built: bool, run: bytes | None = None) -> None:
        with self._conn() as c:
            c.execute(
                "INSERT INTO images(fqin, name, builds, run, updated_at) VALUES(?,?,?,?,?) ON CONFLICT(fqin) DO "
                "UPDATE SET builds = builds + excluded.builds, run = COALESCE(excluded.run, run), "
                "updated_at = excluded.updated_at",
                (fqin, short_name(fqin), 1 if built else 0, run, time.time()),
            )

    def find(self, name: str) -> list[ImageRecord]:
        """Records for ``name:tag`` (newest first); a full reference matches only itself."""
        col = "fqin" if "/" in name else "name"
        with self._conn() as c:
            rows = c.execute(
                f"SELECT fqin, name, builds, run, updated_at FROM images WHERE {col}=? ORDER BY updated_at DESC",
                (name,),
            ).fetchall()
        return [ImageRecord(*r) for r in rows]

    def all(self) -> list[ImageRecord]:
        with self._conn() as c:
            rows = c.execute("SELECT fqin, name, builds, run, updated_at FROM images ORDER BY updated_at").fetchall()
        return [ImageRecord(*r) for r in rows]

    def get(self, fqin: str) -> ImageRecord | None:
        found = [r for r in self.find(fqin) if r.fqin == fqin] if "/" in fqin else []
        return found[0] if found else None

    def forget(self, fqin: str) -> None:
        with self._conn() as c:
            c.execute("DELETE FROM images WHERE fqin=?", (fqin,))


def records_path(box: Devbox) -> Path:
    return box.settings.data_dir / "images.db"


# -- ImageService ----------------------------------------------------------------------------------


class ImageService(isc.ImageService):
    """``GetImage``: the recorded image of that ``name:tag`` that its registry still has, else NOT_FOUND."""

    def __init__(self, box: Devbox) -> None:
        self.box = box
        self.records = ImageRecords(records_path(box))

    async def get_image(
        self, request: payload_pb2.GetImageRequest, ctx: RequestContext
    ) -> payload_pb2.GetImageResponse:
        from flyte.images.errors import RegistryError
        from flyte.images.registry import manifest_exists
        from flyteidl2.common import identifier_pb2
        from flyteidl2.imagebuilder import definition_pb2, payload_pb2

        name = request.id.name
        require(name, "id.name", "the image as name:tag")
        # The same name:tag may be recorded in several registries (the tag is a hash of the spec, not of where it
        # is pushed); the request does not say which one the client means. One whose registry does not answer
        # is skipped while another may still be the answer (a client meaning the skipped one gets another
        # image's name back and has its build run find out).
        unreachable: RegistryError | None = None
        for rec in await asyncio.to_thread(self.records.find, name):
            try:
                there = await asyncio.to_thread(manifest_exists, rec.fqin)
            except RegistryError as e:
                unreachable = unreachable or e
                continue
            if not there:  # deleted from the registry since: build it again
                await asyncio.to_thread(self.records.forget, rec.fqin)
                continue
            image = definition_pb2.Image(id=definition_pb2.ImageIdentifier(name=name), fqin=rec.fqin)
            if rec.run:
                image.build_run.CopyFrom(identifier_pb2.RunIdentifier.FromString(rec.run))
            return payload_pb2.GetImageResponse(image=image)
        if unreachable is not None:
            fail(Code.UNAVAILABLE, f"cannot tell whether {name} exists: {unreachable}")
        fail(Code.NOT_FOUND, f"image {name} was not built by this devbox, or its registry no longer has it")


# -- the build task --------------------------------------------------------------------------------


def build_task_spec() -> task_definition_pb2.TaskSpec:
    """The TaskSpec of ``system/production/build-image``: :mod:`flyte_devbox.image_build` on this host."""
    from flyteidl2.core import interface_pb2, types_pb2
    from flyteidl2.task import task_definition_pb2 as td

    s = td.TaskSpec()
    tt = s.task_template
    tt.id.project, tt.id.domain, tt.id.name = BUILD_TASK_PROJECT, BUILD_TASK_DOMAIN, BUILD_TASK_NAME
    tt.type = BUILD_TASK_TYPE
    tt.container.image = "flyte-devbox-host"  # never pulled: runs_on_host
    tt.container.command.extend([sys.executable, "-m", "flyte_devbox.image_build"])
    tt.container.args.extend(["--inputs", "{{.input}}", "--outputs-path", "{{.outputPrefix}}"])
    string = types_pb2.LiteralType(simple=types_pb2.STRING)
    for var in ("spec", "context", "target_image"):
        tt.interface.inputs.variables.append(interface_pb2.VariableEntry(key=var, value=interface_pb2.Variable(
            type=string, description=f"build-image input {var}")))
    tt.interface.outputs.variables.append(interface_pb2.VariableEntry(key="o0", value=interface_pb2.Variable(
        type=string, description="the pushed image")))
    s.short_name = BUILD_TASK_NAME
    return s


def enable_builds(box: Devbox) -> str:
    """Deploy the build task (a new version only when its spec changed) and point the build subprocesses
    at the builder and the records; returns the task version."""
    from flyte_devbox.convert import DEFAULT_ORG

    builder = box.settings.image_builder
    assert builder
    os.environ[BUILDER_ENV] = builder
    os.environ[RECORDS_ENV] = str(records_path(box))
    ImageRecords(records_path(box))  # created before any build subprocess races to
    spec = build_task_spec()
    body = spec.SerializeToString(deterministic=True)
    version = "v" + hashlib.sha256(body).hexdigest()[:16]
    box.store.put_task(DEFAULT_ORG, BUILD_TASK_PROJECT, BUILD_TASK_DOMAIN, BUILD_TASK_NAME, version, body)
    return version


def check_builder(name: str) -> str | None:
    """Why the builder ``name`` cannot build on this host now (``None``: it can). Raises for an unknown name."""
    from flyte.images.select import get_builder

    builder = get_builder(name, check=False)
    return builder.check_available()
