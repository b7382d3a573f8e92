"""Images of the environments of a run or deployment, resolved before anything is submitted.

For each environment (the task's and those it ``depends_on``): an ``--image NAME=URI`` mapping
wins; an image given as a string is used as is; a :class:`flyte.Image` is made sure of with the
configured builder (``image.builder``): its registry is asked first and a missing image is built
and pushed; a registry that cannot be asked is an error, never "assume it exists"
(:func:`flyte.images.build_images`). With ``image.builder: remote`` (flyte-remote-builder) the
control plane is asked instead (``ImageService.GetImage``) and builds what is missing, so this
machine needs no container engine. An environment with ``image="auto"`` (or none) gets the
default image of this SDK: Debian's Python with flyte-core and the plugins the environment needs
at the versions installed here: the admin transport (children are actions on the control
plane), the storage backends and type transformers installed, flyte-sandbox when a task has
``sandbox=``.

flyte-devbox answers ``SelectCluster`` with the cluster ``devbox`` and runs every action as a
subprocess of its own machine: it records the image URIs of the specs and pulls nothing, so for it
images are resolved to their content-addressed URIs without building. A devbox started with
``--executor docker|podman`` answers ``devbox-docker``/``devbox-podman``: its actions run in their
images, which are then built as for a cluster (on the devbox itself with ``image.builder: remote`` and
``--image-builder``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte import Image, TaskEnvironment

BUILD_PROGRESS: ContextVar[tuple[Callable[[str, str], None], Callable[[str, str], None]] | None] = ContextVar(
    "flyte_remote_build_progress", default=None)
"""``(on_status, on_output)`` for the builds :func:`resolve_images` runs (see :func:`flyte.images.build_images`);
``flyte run --runtime remote`` sets it to show a build's progress as ``flyte build`` does. Called from a worker
thread."""

DEVBOX_CLUSTER = "devbox"
_NOT_IN_IMAGES = {"flyte-core", "flyte-remote", "flyte-devbox", "flyte-docker", "flyte-podman",
                  "flyte-remote-builder"}


def needed_distributions(envs: list[TaskEnvironment], transport: str | None = None) -> list[str]:
    """``name==version`` of the plugin distributions a task container of ``envs`` needs (see the module docstring)."""
    from flyte.plugins.manager import get_plugin_manager

    transport = transport or "grpc"
    uses_sandbox = any(t.sandbox is not None for env in envs for t in env.tasks.values())
    out: set[str] = set()
    for info in get_plugin_manager().describe():
        if info.distribution in _NOT_IN_IMAGES or info.distribution.startswith("("):
            continue
        kinds = info.registers
        wanted = (
            transport in kinds.get("admin transport", [])
            or bool(kinds.get("storage backend"))
            or bool(kinds.get("type transformer"))
            or (uses_sandbox and "sandbox" in kinds.get("runtime", []))
        )
        if wanted:
            out.add(f"{info.distribution}=={info.version}")
    return sorted(out)


def default_image(envs: list[TaskEnvironment], transport: str | None = None) -> Image:
    """This SDK's default task image for ``envs``: flyte-core (``Image.from_debian_base``) and the plugins they need."""
    from flyte import Image

    img = Image.from_debian_base()
    plugins = needed_distributions(envs, transport)
    return img.with_pip_packages(*plugins) if plugins else img


def transport_name() -> str:
    """The admin transport in use (``admin.transport``, default ``grpc``): task containers need it too."""
    from flyte.config import get_config

    return str(get_config().get("admin.transport") or "grpc")


def not_a_control_plane(e: BaseException) -> bool:
    """Whether a failed call was answered over HTTP/2 by something that is not a gRPC service (a web
    server, a proxy's error page): grpc reports its HTTP status as UNIMPLEMENTED or UNKNOWN."""
    from flyte.remote.task import status_of

    details = e.details() if callable(getattr(e, "details", None)) else str(e)  # type: ignore[attr-defined]
    return status_of(e) in ("UNIMPLEMENTED", "UNKNOWN") and "http2 header with status" in str(details)


async def is_devbox(client: Any) -> bool:
    """Whether the control plane is flyte-devbox (it names its cluster ``devbox`` in SelectCluster)."""
    from flyte.remote.task import status_of
    from flyteidl2.cluster import payload_pb2
    from flyteidl2.common import identifier_pb2

    try:
        resp = await client.cluster.SelectCluster(payload_pb2.SelectClusterRequest(
            org_id=identifier_pb2.OrgIdentifier(name="")))
    except Exception as e:
        if not_a_control_plane(e):
            raise  # a web server's 404 reads as UNIMPLEMENTED too: not "some other control plane"
        if status_of(e) in ("UNIMPLEMENTED", "NOT_FOUND", "PERMISSION_DENIED", "INVALID_ARGUMENT"):
            return False  # a control plane without (our use of) SelectCluster is not the devbox
        raise  # unreachable, unauthenticated...: the same one-line error any call would give
    return str(resp.cluster) == DEVBOX_CLUSTER


async def resolve_images(envs: list[TaskEnvironment], *, overrides: dict[str, str] | None = None,
                         build: bool = True, transport: str | None = None) -> dict[str, str]:
    """Environment name -> image URI for ``envs`` (plus ``"default"``: the default image), building what is
    missing when ``build`` (see the module docstring)."""
    from flyte import Image

    overrides = dict(overrides or {})
    out: dict[str, str] = {}
    to_build: dict[str, Image] = {}
    default: Image | None = None
    for env in envs:
        if env.name in overrides:
            out[env.name] = overrides[env.name]
            continue
        img = env.image
        if isinstance(img, str) and img != "auto":
            out[env.name] = img
            continue
        if img is None or img == "auto":
            if "default" in overrides:
                out[env.name] = overrides["default"]
                continue
            default = default or default_image(envs, transport)
            img = default
        assert isinstance(img, Image)
        to_build[env.name] = img
    if "default" in overrides:
        out["default"] = overrides["default"]
    elif default is not None:
        to_build["default"] = default
    if not to_build:
        return out
    if not build:
        out.update({name: img.uri for name, img in to_build.items()})
        return out
    from flyte.images import build_images
    from flyte.images.select import get_builder

    distinct = list(dict.fromkeys(to_build.values()))  # equal specs are built once, results in this order
    # builder made here, not by build_images, so that a cancelled caller (Ctrl-C) can stop its build
    # (in a thread: with no builder configured, finding a usable one asks the engines)
    needed = any(img.needs_build for img in distinct)
    builder = await asyncio.to_thread(get_builder, None, check=False) if needed else None
    on_status, on_output = BUILD_PROGRESS.get() or (None, None)
    job = asyncio.ensure_future(asyncio.to_thread(build_images, distinct, builder, True, on_status=on_status,
                                                  on_output=on_output))
    try:
        results = await asyncio.shield(job)
    except asyncio.CancelledError:
        # the thread would go on building (and a remote build run with it) after the caller gave up
        if builder is not None:
            builder.cancel()
        with contextlib.suppress(BaseException):
            await job
        raise
    uri_of = {img: r.uri for img, r in zip(distinct, results, strict=True)}
    out.update({name: uri_of[img] for name, img in to_build.items()})
    return out
