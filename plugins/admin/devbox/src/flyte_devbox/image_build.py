"""The build-image task's process: build one image with the devbox's builder plugin and push it.

    python -m flyte_devbox.image_build --inputs {{.input}} --outputs-path {{.outputPrefix}}

Run by the devbox's executor as a subprocess of its host (see :mod:`flyte_devbox.images`). Its inputs
follow the official remote builder's wire shape: ``spec`` (URI of a serialized
``flyteidl2.imagebuilder.ImageSpec``), ``context`` (URI of a gzipped tarball of the files the layers
copy, or empty) and ``target_image``. Steps: if the registry already has ``target_image``, nothing is
built; otherwise the spec becomes a :class:`flyte.Image` whose copied paths point into the extracted
context, and the builder named by ``FLYTE_DEVBOX_IMAGE_BUILDER`` builds it, tagged ``target_image``,
and pushes it with the credentials of the devbox's environment. Build output goes to stdout (the
action's log, which ``TailLogs`` streams to the client). The outcome is ``outputs.pb`` (``o0``: the
image) or ``error.pb`` whose code names the error class (``ImageBuildError``, ``RegistryAuthError``,
``RegistryUnreachableError``, ``BuilderUnavailableError``...) so the client raises the same one.
Builds of the same target are serialized (a lock file per image, removed after), so a second request
waits for the first and then finds the image pushed. Temporary files go to ``DATA/image-builds/<pid>-...``;
what an aborted (killed) build left there, and its lock file, the next build removes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte import Image
from flyte.images import layers as L

from flyte_devbox.images import BUILDER_ENV, NOT_ENABLED, RECORDS_ENV, ImageRecords

if TYPE_CHECKING:
    from flyteidl2.imagebuilder import definition_pb2


class BuildRefused(Exception):
    """The request cannot be built as given (bad spec, path outside the context...)."""

    code = "ImageBuildError"


@dataclass(frozen=True)
class PinnedImage(Image):
    """An image whose URI is the one the client asked for (its content hash was taken on the client's
    machine over the original files; re-hashing the unpacked copy here need not give the same tag)."""

    pinned_uri: str = ""

    @property
    def uri(self) -> str:
        return self.pinned_uri


# -- ImageSpec -> Image ------------------------------------------------------------------------------


def _inside(ctx: Path, rel: str, what: str) -> Path:
    p = (ctx / rel).resolve()
    if p != ctx and ctx not in p.parents:
        raise BuildRefused(f"{what} {rel!r} points outside the build context")
    if not p.exists():
        raise BuildRefused(f"{what} {rel!r} is not in the uploaded build context")
    return p


def _pip(o: Any) -> dict[str, Any]:
    return {
        "index_url": o.index_url or None,
        "extra_index_urls": tuple(o.extra_index_urls) or None,
        "pre": bool(o.pre),
        "extra_args": o.extra_args or None,
    }


def _secrets(mounts: Any) -> tuple[str, ...] | None:
    keys = tuple(f"{m.group}/{m.key}" if m.group else m.key for m in mounts)
    return keys or None


def _without(args: str | None, flag: str) -> tuple[str | None, bool]:
    """``args`` without ``flag``, and whether it was there."""
    if not args:
        return args, False
    parts = args.split()
    if flag not in parts:
        return args, False
    rest = " ".join(p for p in parts if p != flag)
    return rest or None, True


def _layer(ctx: Path, pb: definition_pb2.Layer) -> L.Layer | None:
    which = pb.WhichOneof("layer")
    if which == "apt_packages":
        x = pb.apt_packages
        return L.AptPackages(packages=tuple(x.packages), secret_mounts=_secrets(x.secret_mounts))
    if which == "pip_packages":
        x = pb.pip_packages
        pkgs = tuple(str(_inside(ctx, p[2:], "pip package")) if p.startswith("./") else p for p in x.packages)
        return L.PipPackages(packages=pkgs, secret_mounts=_secrets(x.secret_mounts), **_pip(x.options))
    if which == "requirements":
        x = pb.requirements
        return L.Requirements(file=_inside(ctx, x.file, "requirements file"), secret_mounts=_secrets(x.secret_mounts),
                              **_pip(x.options))
    if which == "python_wheels":
        x = pb.python_wheels
        return L.PythonWheels(wheel_dir=_inside(ctx, x.dir, "wheel folder"), package_name=x.package_name,
                              secret_mounts=_secrets(x.secret_mounts), **_pip(x.options))
    if which == "uv_project":
        x = pb.uv_project
        opts = _pip(x.options)
        opts["extra_args"], deps_only = _without(opts["extra_args"], "--no-install-project")
        folder = _inside(ctx, x.pyproject, "uv project")
        pyproject = folder / "pyproject.toml" if folder.is_dir() else folder
        return L.UVProject(pyproject=pyproject, uvlock=_inside(ctx, x.uvlock, "uv.lock") if x.uvlock else None,
                           project_install_mode="dependencies_only" if deps_only else "install_project",
                           secret_mounts=_secrets(x.secret_mounts), **opts)
    if which == "poetry_project":
        x = pb.poetry_project
        extra, deps_only = _without(x.extra_args or None, "--no-root")
        target = _inside(ctx, x.pyproject, "poetry project")
        pyproject = target / "pyproject.toml" if target.is_dir() else target
        return L.PoetryProject(pyproject=pyproject, poetry_lock=_inside(ctx, x.poetry_lock, "poetry.lock"),
                               extra_args=extra, secret_mounts=_secrets(x.secret_mounts),
                               project_install_mode="dependencies_only" if deps_only else "install_project")
    if which == "commands":
        x = pb.commands
        return L.Commands(commands=tuple(x.cmd), secret_mounts=_secrets(x.secret_mounts))
    if which == "workdir":
        return L.WorkDir(workdir=pb.workdir.workdir)
    if which == "copy_config":
        src = _inside(ctx, pb.copy_config.src, "copied path")
        return L.CopyConfig(path_type=1 if src.is_dir() else 0, src=src, dst=pb.copy_config.dst or ".")
    if which == "env":
        return L.Env(env_vars=tuple(sorted(pb.env.env_variables.items())))
    raise BuildRefused(f"layer kind {which or '(none)'} is not supported by the devbox's builder")


def image_from_spec(spec: definition_pb2.ImageSpec, ctx: Path, target: str) -> PinnedImage:
    """The :class:`flyte.Image` that ``spec`` describes, its copied files in ``ctx``, tagged ``target``."""
    if not spec.base_image:
        raise BuildRefused("the image spec has no base_image")
    kw: dict[str, Any] = {"base_image": spec.base_image, "pinned_uri": target}
    if spec.platform:
        kw["platform"] = tuple(spec.platform)
    if spec.python_version:
        kw["python_version"] = spec.python_version
    layers = tuple(x for x in (_layer(ctx.resolve(), pb) for pb in spec.layers) if x is not None)
    return PinnedImage(_layers=layers, **kw)


# -- the task ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _lock(records: Path, target: str) -> Iterator[None]:
    """Builds of one target one at a time (the next one finds the image pushed). The holder removes the lock
    file before letting go, so none is left behind; a waiter that then holds the lock of a removed file
    takes the current one instead."""
    folder = records.parent / "image-locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / hashlib.sha256(target.encode()).hexdigest()[:32]
    for other in folder.iterdir():  # left by builds killed while holding them (an abort is SIGKILL)
        if other != path:
            with contextlib.suppress(OSError):
                _take(other, blocking=False).close()
    held = _take(path, blocking=True)
    try:
        yield
    finally:
        held.close()


class _Held:
    def __init__(self, path: Path, f: Any) -> None:
        self.path, self.f = path, f

    def close(self) -> None:
        """Remove the lock file, then let go: a waiter finds its file gone and takes the current one."""
        self.path.unlink(missing_ok=True)
        self.f.close()


def _take(path: Path, *, blocking: bool) -> _Held:
    """Hold the lock file ``path`` (a file removed while waiting for it is opened anew); raises
    BlockingIOError when not ``blocking`` and someone holds it."""
    while True:
        f = open(path, "a")  # noqa: SIM115 - held past this block
        try:
            fcntl.flock(f, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino == os.fstat(f.fileno()).st_ino:
                return _Held(path, f)
        except FileNotFoundError:
            pass
        except BaseException:
            f.close()
            raise
        f.close()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a killed process the devbox has not reaped yet, a zombie, does not)."""
    if Path("/proc/self/stat").exists():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]
    try:  # no /proc here
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


@contextlib.contextmanager
def _scratch(data: Path) -> Iterator[Path]:
    """This build process's folder under ``DATA/image-builds`` (``<pid>-...``), where every temporary file of the
    build goes (``tempfile``'s default folder points there, so the builder plugin's staged context does too),
    removed at the end. An abort kills the build's process (SIGKILL) before it can clean up: the folders of
    processes that are gone are removed by the next build."""
    root = data / "image-builds"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        pid = old.name.split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    mine = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root))
    previous = tempfile.tempdir
    tempfile.tempdir = str(mine)
    try:
        yield mine
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(mine, ignore_errors=True)


def _local_copy(uri: str, dest: Path) -> Path:
    """A local file holding ``uri``: the file itself when it is local, else a copy made in chunks (a build
    context can be large: never whole in memory)."""
    from flyte import storage
    from flyte.remote.io import local_path

    path = local_path(uri)
    if path is not None:
        return Path(path)
    with storage.open_sync(uri, "rb") as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    return dest


def _say(line: str) -> None:
    print(line, flush=True)


def _run_id() -> bytes | None:
    from flyteidl2.common import identifier_pb2

    if not os.environ.get("RUN_NAME"):
        return None
    return identifier_pb2.RunIdentifier(
        org=os.environ.get("_U_ORG_NAME", ""), project=os.environ.get("FLYTE_INTERNAL_EXECUTION_PROJECT", ""),
        domain=os.environ.get("FLYTE_INTERNAL_EXECUTION_DOMAIN", ""), name=os.environ["RUN_NAME"],
    ).SerializeToString()


def _string(lits: dict[str, Any], name: str) -> str:
    lit = lits.get(name)
    if lit is None:
        return ""
    return str(lit.scalar.primitive.string_value)


async def build(inputs_uri: str) -> str:
    """Build (or find) the requested image; return its name."""
    from flyte.images.registry import manifest_exists
    from flyte.images.select import get_builder
    from flyte.remote import io
    from flyte.remote.bundle import safe_extract
    from flyteidl2.imagebuilder import definition_pb2

    builder_name = os.environ.get(BUILDER_ENV)
    if not builder_name:
        raise BuildRefused(NOT_ENABLED)
    records = ImageRecords(Path(os.environ[RECORDS_ENV]))
    lits = await io.read_inputs(inputs_uri)
    target, spec_uri, ctx_uri = _string(lits, "target_image"), _string(lits, "spec"), _string(lits, "context")
    if not target or not spec_uri:
        raise BuildRefused("the build-image task needs the inputs spec and target_image")
    if "/" not in target:
        raise BuildRefused(f"target_image {target!r} names no registry; give the image a registry "
                           "(image.registry, Image.clone(registry=...)) the devbox can push to")
    with _lock(Path(os.environ[RECORDS_ENV]), target):
        _say(f"checking whether {target} is in its registry")
        if await asyncio.to_thread(manifest_exists, target):
            _say(f"{target} is already in the registry: not built")
            records.put(target, built=False, run=_run_id())
            return target
        spec = definition_pb2.ImageSpec.FromString(await io.read_bytes(spec_uri))
        with _scratch(Path(os.environ[RECORDS_ENV]).parent) as work:
            ctx = work / "context"
            ctx.mkdir()
            if ctx_uri:
                tarball = await asyncio.to_thread(_local_copy, ctx_uri, work / "context.tar.gz")
                await asyncio.to_thread(safe_extract, tarball, ctx)
            image = image_from_spec(spec, ctx, target)
            builder = get_builder(builder_name)  # BuilderUnavailableError when its engine is gone
            _say(f"building {target} with the {builder_name} builder")
            out = await asyncio.to_thread(builder.build, image, push=True, on_output=_say)
        _say(f"pushed {out}")
        records.put(out, built=True, run=_run_id())
        return out


def _error_doc(e: BaseException) -> Any:
    from flyteidl2.core import execution_pb2

    ce = execution_pb2.ContainerError
    code = getattr(e, "code", None) if isinstance(e, BuildRefused) else None
    if not isinstance(code, str):
        code = type(e).__name__
    return execution_pb2.ErrorDocument(error=ce(
        code=code, message=str(e) or type(e).__name__, kind=ce.NON_RECOVERABLE,
        origin=execution_pb2.ExecutionError.USER,
    ))


async def main_async(inputs: str, outputs_path: str) -> int:
    from flyte.remote import io
    from flyteidl2.core import literals_pb2

    try:
        fqin = await build(inputs)
    except Exception as e:
        _say(f"error: {e}" if not hasattr(e, "summary") else f"error: {e.summary}")
        await io.write_bytes(io.join(outputs_path, io.ERROR), _error_doc(e).SerializeToString())
        return 0
    lit = literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=literals_pb2.Primitive(string_value=fqin)))
    await io.write_bytes(io.join(outputs_path, io.OUTPUTS), io.outputs_message({"o0": lit}).SerializeToString())
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="flyte_devbox.image_build", description=__doc__.split("\n", 1)[0])
    p.add_argument("--inputs", required=True)
    p.add_argument("--outputs-path", required=True)
    a = p.parse_args(argv)
    return asyncio.run(main_async(a.inputs, a.outputs_path))


if __name__ == "__main__":
    sys.exit(main())
