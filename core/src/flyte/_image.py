"""Container image specs: a base plus an ordered list of layers, immutable and content-addressed.

An :class:`Image` is built in two steps: a ``from_*`` constructor picks the base, then each
``with_*`` call returns a *new* image with one more layer::

    import flyte
    from pathlib import Path

    image = (
        flyte.Image.from_debian_base(python_version=(3, 12))
        .with_apt_packages("git")
        .with_pip_packages("pandas>=2", "requests")
        .with_source_folder(Path("src"))
    )
    print(image.uri)  # flyte:<content hash>, or <registry>/flyte:<hash> with a registry

Every layer checks its arguments when it is created, so a bad package spec or a missing file
fails at the line that wrote it. The tag is a hash of the canonical spec and of every byte the
layers copy (see :mod:`flyte.images.hashing`), so an image that did not change is never rebuilt.

Only the standard library is imported here: defining an image at module level costs nothing.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from flyte.errors import FlyteError

Architecture = Literal["linux/amd64", "linux/arm64"]
InstallMode = Literal["dependencies_only", "install_project"]

DEFAULT_IMAGE_NAME = "flyte"
"""Name given to images that do not choose one (``from_debian_base`` and layered ``from_base``)."""

DEBIAN_BASE_TEMPLATE = "python:{major}.{minor}-slim-bookworm"
"""The base of :meth:`Image.from_debian_base`: the official Python image on Debian bookworm."""

SKIP_FILE_CHECKS_ENV = "FLYTE_IMAGE_SKIP_FILE_CHECKS"
"""Set to ``1`` where image definitions are imported but never built (inside a task's container),
so that layers naming local files do not fail there. :meth:`Image.validate` still checks them."""

_PLATFORMS = ("linux/amd64", "linux/arm64")


class ImageSpecError(FlyteError, ValueError):
    """An image spec is invalid: the message names the layer, the argument and the value."""


# -- validation helpers ----------------------------------------------------------------------------

# PEP 508 in the shape people write on a command line: name[extras] specifiers ; marker
_REQ_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_REQ_SPEC = r"(?:~=|===|==|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
_PATTERNS = {
    "requirement": (
        rf"^{_REQ_NAME}\s*(?:\[\s*{_REQ_NAME}(?:\s*,\s*{_REQ_NAME})*\s*\])?\s*"
        rf"(?:\(?\s*{_REQ_SPEC}(?:\s*,\s*{_REQ_SPEC})*\s*\)?|@\s*\S+)?\s*(?:;.+)?$"
    ),
    "url_requirement": r"^(?:git\+|hg\+|svn\+|bzr\+)?(?:https?|file|ssh)://\S+$",
    "apt_package": r"^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?(?:=[A-Za-z0-9.+~:-]+)?$",
    "env_name": r"^[A-Za-z_][A-Za-z0-9_]*$",
    "image_name": r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$",
    "registry": r"^[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9._/-]+)?$",
}


def _match(kind: str, value: str) -> bool:
    # compiled on first use (re caches it): defining an image at import time stays cheap
    return re.match(_PATTERNS[kind], value) is not None

def _check_files() -> bool:
    return os.environ.get(SKIP_FILE_CHECKS_ENV, "").strip().lower() not in {"1", "true", "yes", "on"}


def _strings(layer: str, arg: str, values: Any) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    if isinstance(values, list):
        values = tuple(values)
    if not isinstance(values, tuple):
        raise ImageSpecError(f"{layer}: {arg} must be strings, got {values!r}")
    for v in values:
        if not isinstance(v, str) or not v.strip():
            raise ImageSpecError(f"{layer}: {arg} must be non-empty strings, got {v!r}")
        if "\n" in v or "\r" in v:
            raise ImageSpecError(f"{layer}: {arg} {v!r} contains a newline; pass one item per argument")
    return values


def _path(layer: str, arg: str, value: Any, *, kind: Literal["file", "dir"], must_exist: bool) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ImageSpecError(f"{layer}: {arg} must be a path, got {value!r}")
    p = Path(value)
    if must_exist and _check_files():
        _require(layer, arg, p, kind)
    return p


def _require(layer: str, arg: str, p: Path, kind: Literal["file", "dir"]) -> None:
    if not p.exists():
        raise ImageSpecError(f"{layer}: {arg} {str(p)!r} does not exist (resolved to {p.absolute()})")
    if kind == "file" and not p.is_file():
        raise ImageSpecError(f"{layer}: {arg} {str(p)!r} is not a file")
    if kind == "dir" and not p.is_dir():
        raise ImageSpecError(f"{layer}: {arg} {str(p)!r} is not a directory")


# -- layers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """One step of an image. Subclasses validate in ``__post_init__`` and describe themselves
    canonically (no absolute paths, nothing machine-specific) in :meth:`canonical`."""

    kind: ClassVar[str] = "layer"

    def canonical(self) -> dict[str, Any]:
        """A JSON-able description of this layer that the content hash is taken over."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.name if isinstance(v, Path) else v
        return out

    def sources(self) -> tuple[tuple[Path, Literal["file", "dir"]], ...]:
        """Local files and folders this layer copies into the image."""
        return ()

    def validate(self) -> None:
        """Check again, at build time, that what this layer reads from disk is there."""
        for p, kind in self.sources():
            _require(type(self).__name__, "path", p, kind)


@dataclass(frozen=True, kw_only=True)
class PipOptions:
    """Options shared by the layers that install Python packages."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] | None = None
    pre: bool = False
    extra_args: str | None = None

    def _check_pip_options(self, layer: str) -> None:
        if self.index_url is not None:
            _strings(layer, "index_url", self.index_url)
        if self.extra_index_urls is not None:
            object.__setattr__(self, "extra_index_urls", _strings(layer, "extra_index_urls", self.extra_index_urls))
        if self.extra_args is not None:
            _strings(layer, "extra_args", self.extra_args)

    def pip_args(self) -> list[str]:
        import shlex

        args: list[str] = []
        if self.index_url:
            args += ["--index-url", self.index_url]
        for url in self.extra_index_urls or ():
            args += ["--extra-index-url", url]
        if self.pre:
            args.append("--pre")
        if self.extra_args:
            args += shlex.split(self.extra_args)
        return args


@dataclass(frozen=True, kw_only=True)
class PipPackages(PipOptions, Layer):
    """``pip install`` of package specs (PEP 508 requirements or URLs)."""

    kind: ClassVar[str] = "pip"
    packages: tuple[str, ...]

    def __post_init__(self) -> None:
        pkgs = _strings("with_pip_packages", "package", self.packages)
        if not pkgs:
            raise ImageSpecError("with_pip_packages: give at least one package")
        for p in pkgs:
            if p.startswith("-"):
                raise ImageSpecError(f"with_pip_packages: {p!r} is an option, not a package; pass it as extra_args=")
            if not (_match("requirement", p.strip()) or _match("url_requirement", p.strip())):
                raise ImageSpecError(
                    f"with_pip_packages: {p!r} is not a valid package spec "
                    "(expected e.g. 'pandas', 'pandas>=2,<3', 'pkg[extra]==1.0' or 'name @ https://...')"
                )
        object.__setattr__(self, "packages", pkgs)
        self._check_pip_options("with_pip_packages")


@dataclass(frozen=True, kw_only=True)
class Requirements(PipOptions, Layer):
    """``pip install -r`` of a requirements file, copied into the build."""

    kind: ClassVar[str] = "requirements"
    file: Path

    def __post_init__(self) -> None:
        p = _path("with_requirements", "file", self.file, kind="file", must_exist=True)
        if p.suffix != ".txt":
            raise ImageSpecError(f"with_requirements: file {str(p)!r} must be a .txt requirements file")
        object.__setattr__(self, "file", p)
        self._check_pip_options("with_requirements")

    def sources(self) -> tuple[tuple[Path, Literal["file", "dir"]], ...]:
        return ((self.file, "file"),)


@dataclass(frozen=True, kw_only=True)
class UVProject(PipOptions, Layer):
    """Install a uv project's dependencies (and, with ``install_project``, the project itself)."""

    kind: ClassVar[str] = "uv_project"
    pyproject: Path
    uvlock: Path | None = None
    project_install_mode: InstallMode = "dependencies_only"

    def __post_init__(self) -> None:
        p = _path("with_uv_project", "pyproject_file", self.pyproject, kind="file", must_exist=True)
        if p.name != "pyproject.toml":
            raise ImageSpecError(f"with_uv_project: pyproject_file {str(p)!r} must be a pyproject.toml")
        object.__setattr__(self, "pyproject", p)
        if self.uvlock is not None:
            lock = _path("with_uv_project", "uvlock", self.uvlock, kind="file", must_exist=True)
            object.__setattr__(self, "uvlock", lock)
        if self.project_install_mode not in ("dependencies_only", "install_project"):
            raise ImageSpecError(
                f"with_uv_project: project_install_mode must be 'dependencies_only' or 'install_project', "
                f"got {self.project_install_mode!r}"
            )
        self._check_pip_options("with_uv_project")

    def sources(self) -> tuple[tuple[Path, Literal["file", "dir"]], ...]:
        if self.project_install_mode == "install_project":
            return ((self.pyproject.parent, "dir"),)
        out: tuple[tuple[Path, Literal["file", "dir"]], ...] = ((self.pyproject, "file"),)
        if self.uvlock is not None:
            out += ((self.uvlock, "file"),)
        return out

    def canonical(self) -> dict[str, Any]:
        out = super().canonical()
        out["pyproject"] = "pyproject.toml"
        out["uvlock"] = "uv.lock" if self.uvlock is not None else None
        return out


@dataclass(frozen=True)
class AptPackages(Layer):
    """``apt-get install`` of Debian packages."""

    kind: ClassVar[str] = "apt"
    packages: tuple[str, ...]

    def __post_init__(self) -> None:
        pkgs = _strings("with_apt_packages", "package", self.packages)
        if not pkgs:
            raise ImageSpecError("with_apt_packages: give at least one package")
        for p in pkgs:
            if not _match("apt_package", p):
                raise ImageSpecError(
                    f"with_apt_packages: {p!r} is not a valid Debian package name "
                    "(lower case letters, digits, '+', '-', '.'; optionally '=version')"
                )
        object.__setattr__(self, "packages", pkgs)


@dataclass(frozen=True)
class Commands(Layer):
    """Shell commands, one ``RUN`` each."""

    kind: ClassVar[str] = "commands"
    commands: tuple[str, ...]

    def __post_init__(self) -> None:
        cmds = _strings("with_commands", "command", self.commands)
        if not cmds:
            raise ImageSpecError("with_commands: give at least one command")
        for c in cmds:
            if re.match(r"^\s*RUN\s", c):
                raise ImageSpecError(f"with_commands: {c!r} starts with RUN; give the shell command only")
        object.__setattr__(self, "commands", cmds)


@dataclass(frozen=True)
class Env(Layer):
    """Environment variables set in the image."""

    kind: ClassVar[str] = "env"
    env_vars: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        for k, v in self.env_vars:
            if not isinstance(k, str) or not _match("env_name", k):
                raise ImageSpecError(f"with_env_vars: {k!r} is not a valid environment variable name")
            if not isinstance(v, str):
                raise ImageSpecError(f"with_env_vars: value of {k} must be a string, got {type(v).__name__}")
            if "\n" in v:
                raise ImageSpecError(f"with_env_vars: value of {k} contains a newline")

    def canonical(self) -> dict[str, Any]:
        return {"kind": self.kind, "env_vars": [list(kv) for kv in self.env_vars]}


@dataclass(frozen=True)
class WorkDir(Layer):
    """The working directory of later layers and of the container."""

    kind: ClassVar[str] = "workdir"
    workdir: str

    def __post_init__(self) -> None:
        _strings("with_workdir", "workdir", self.workdir)


@dataclass(frozen=True)
class CopyConfig(Layer):
    """Copy a local file (``path_type=0``) or folder (``path_type=1``) to ``dst`` in the image."""

    kind: ClassVar[str] = "copy"
    path_type: Literal[0, 1]
    src: Path
    dst: str = "."

    def __post_init__(self) -> None:
        method = "with_source_folder" if self.path_type == 1 else "with_source_file"
        if self.path_type not in (0, 1):
            raise ImageSpecError(f"{method}: path_type must be 0 (file) or 1 (folder), got {self.path_type!r}")
        kind: Literal["file", "dir"] = "dir" if self.path_type == 1 else "file"
        object.__setattr__(self, "src", _path(method, "src", self.src, kind=kind, must_exist=True))
        _strings(method, "dst", self.dst)

    def sources(self) -> tuple[tuple[Path, Literal["file", "dir"]], ...]:
        return ((self.src, "dir" if self.path_type == 1 else "file"),)


@dataclass(frozen=True)
class DockerIgnore(Layer):
    """A ``.dockerignore`` whose patterns filter every folder the image copies."""

    kind: ClassVar[str] = "dockerignore"
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "path", _path("with_dockerignore", "path", self.path, kind="file", must_exist=True)
        )

    def sources(self) -> tuple[tuple[Path, Literal["file", "dir"]], ...]:
        return ((self.path, "file"),)


# -- the image -------------------------------------------------------------------------------------


def _platforms(platform: Any) -> tuple[str, ...]:
    plats = (platform,) if isinstance(platform, str) else tuple(platform)
    for p in plats:
        if p not in _PLATFORMS:
            raise ImageSpecError(f"platform {p!r} is not supported; use one of {', '.join(_PLATFORMS)}")
    if not plats:
        raise ImageSpecError("platform: give at least one platform")
    return plats


def _python_version(v: Any) -> tuple[int, int]:
    if isinstance(v, str):
        parts = v.split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            return int(parts[0]), int(parts[1])
    elif isinstance(v, (tuple, list)) and len(v) >= 2 and all(isinstance(x, int) for x in v[:2]):
        return int(v[0]), int(v[1])
    raise ImageSpecError(f"python_version must look like (3, 12) or '3.12', got {v!r}")


@dataclass(frozen=True)
class Image:
    """A container image spec: a base (an image URI or a Dockerfile) plus layers.

    Create one with :meth:`from_debian_base`, :meth:`from_base` or :meth:`from_dockerfile`; every
    ``with_*`` method returns a new image. The tag of a built image is a content hash
    (:attr:`tag`), so :attr:`uri` changes exactly when what goes into the image changes.

    Example::

        img = Image.from_base("python:3.12-slim").with_pip_packages("numpy").clone(registry="ghcr.io/me")
        assert img.uri.startswith("ghcr.io/me/flyte:")
    """

    base_image: str | None = None
    dockerfile: Path | None = None
    registry: str | None = None
    name: str | None = None
    platform: tuple[str, ...] = ("linux/amd64",)
    python_version: tuple[int, int] | None = None
    _layers: tuple[Layer, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if (self.base_image is None) == (self.dockerfile is None):
            raise ImageSpecError("an image needs exactly one of a base image or a Dockerfile; use Image.from_*()")
        if self.base_image is not None:
            _strings("from_base", "image_uri", self.base_image)
            if any(c.isspace() for c in self.base_image):
                raise ImageSpecError(f"from_base: {self.base_image!r} is not an image reference")
        if self.registry is not None:
            reg = self.registry.rstrip("/")
            if not _match("registry", reg):
                raise ImageSpecError(
                    f"registry {self.registry!r} is not a registry host (e.g. ghcr.io/org, 127.0.0.1:5000)"
                )
            object.__setattr__(self, "registry", reg)
        if self.name is not None and not _match("image_name", self.name):
            raise ImageSpecError(
                f"image name {self.name!r} is invalid: use lower case letters, digits, '.', '_', '-' and '/'"
            )
        object.__setattr__(self, "platform", _platforms(self.platform))
        if self.python_version is not None:
            object.__setattr__(self, "python_version", _python_version(self.python_version))

    # -- constructors ------------------------------------------------------------------------------

    @classmethod
    def from_debian_base(
        cls,
        python_version: tuple[int, int] | str | None = None,
        flyte_version: str | None = None,
        install_flyte: bool = True,
        registry: str | None = None,
        name: str | None = None,
        platform: Architecture | tuple[Architecture, ...] | None = None,
    ) -> Image:
        """The official Python image on Debian bookworm, with flyte installed.

        ``python_version`` defaults to the running interpreter's; ``flyte_version`` to this SDK's.
        """
        pv = _python_version(python_version) if python_version is not None else sys.version_info[:2]
        img = cls(
            base_image=DEBIAN_BASE_TEMPLATE.format(major=pv[0], minor=pv[1]),
            registry=registry,
            name=name or DEFAULT_IMAGE_NAME,
            platform=_platforms(platform) if platform else ("linux/amd64",),
            python_version=(pv[0], pv[1]),
        )
        img = img.with_workdir("/root").with_env_vars({"PYTHONPATH": "/root", "PYTHONUNBUFFERED": "1"})
        if install_flyte:
            if flyte_version is None:
                from flyte import __version__

                flyte_version = __version__
            spec = flyte_version if any(c in flyte_version for c in "<>=~!@") else f"=={flyte_version.lstrip('v')}"
            img = img.with_pip_packages(f"flyte-core{spec}")
        return img

    @classmethod
    def from_base(cls, image_uri: str) -> Image:
        """Start from an image that already exists (``python:3.12-slim``, ``ghcr.io/org/base:1``).

        Without layers the image is used as is and never built.
        """
        return cls(base_image=image_uri)

    @classmethod
    def from_dockerfile(
        cls,
        file: str | Path,
        registry: str | None = None,
        name: str | None = None,
        platform: Architecture | tuple[Architecture, ...] | None = None,
    ) -> Image:
        """Build from a Dockerfile; its folder is the build context. No layers can be added."""
        p = _path("from_dockerfile", "file", file, kind="file", must_exist=True)
        return cls(
            dockerfile=p,
            registry=registry,
            name=name or DEFAULT_IMAGE_NAME,
            platform=_platforms(platform) if platform else ("linux/amd64",),
        )

    # -- derived images ------------------------------------------------------------------------------

    def clone(
        self,
        registry: str | None = None,
        name: str | None = None,
        base_image: str | None = None,
        python_version: tuple[int, int] | None = None,
        addl_layer: Layer | None = None,
        platform: Architecture | tuple[Architecture, ...] | None = None,
    ) -> Image:
        """A copy with another registry, name, base, Python version or platform, or one more layer."""
        changes: dict[str, Any] = {}
        if registry is not None:
            changes["registry"] = registry
        if name is not None:
            changes["name"] = name
        if base_image is not None:
            if self.dockerfile is not None:
                raise ImageSpecError("clone: a Dockerfile-based image has no base image to replace")
            changes["base_image"] = base_image
        if python_version is not None:
            changes["python_version"] = python_version
        if platform is not None:
            changes["platform"] = _platforms(platform)
        if addl_layer is not None:
            if self.dockerfile is not None:
                raise ImageSpecError(
                    f"cannot add layers to an image built from {self.dockerfile}: flyte does not parse "
                    "Dockerfiles; put these steps in the Dockerfile instead"
                )
            if not isinstance(addl_layer, Layer):
                raise ImageSpecError(f"clone: addl_layer must be a Layer, got {addl_layer!r}")
            changes["_layers"] = (*self._layers, addl_layer)
        return replace(self, **changes)

    def with_pip_packages(
        self,
        *packages: str,
        index_url: str | None = None,
        extra_index_urls: str | list[str] | tuple[str, ...] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
    ) -> Image:
        """Install Python packages: ``.with_pip_packages("pandas>=2", "requests")``."""
        return self.clone(
            addl_layer=PipPackages(
                packages=packages,
                index_url=index_url,
                extra_index_urls=_opt_tuple(extra_index_urls),
                pre=pre,
                extra_args=extra_args,
            )
        )

    def with_requirements(
        self,
        file: str | Path,
        index_url: str | None = None,
        extra_index_urls: str | list[str] | tuple[str, ...] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
    ) -> Image:
        """Install a ``requirements.txt``; its content is part of the image hash."""
        return self.clone(
            addl_layer=Requirements(
                file=Path(file),
                index_url=index_url,
                extra_index_urls=_opt_tuple(extra_index_urls),
                pre=pre,
                extra_args=extra_args,
            )
        )

    def with_uv_project(
        self,
        pyproject_file: str | Path,
        uvlock: Path | None = None,
        index_url: str | None = None,
        extra_index_urls: list[str] | tuple[str, ...] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
        project_install_mode: InstallMode = "dependencies_only",
    ) -> Image:
        """Install a uv project; ``uvlock`` defaults to the ``uv.lock`` beside the pyproject if any."""
        pyproject = Path(pyproject_file)
        if uvlock is None and (pyproject.parent / "uv.lock").is_file():
            uvlock = pyproject.parent / "uv.lock"
        return self.clone(
            addl_layer=UVProject(
                pyproject=pyproject,
                uvlock=uvlock,
                index_url=index_url,
                extra_index_urls=_opt_tuple(extra_index_urls),
                pre=pre,
                extra_args=extra_args,
                project_install_mode=project_install_mode,
            )
        )

    def with_apt_packages(self, *packages: str) -> Image:
        """Install Debian packages: ``.with_apt_packages("git", "curl")``."""
        return self.clone(addl_layer=AptPackages(packages=packages))

    def with_commands(self, commands: list[str] | tuple[str, ...] | str) -> Image:
        """Run shell commands at build time, one ``RUN`` each (without the ``RUN``)."""
        return self.clone(addl_layer=Commands(commands=_strings("with_commands", "commands", commands)))

    def with_env_vars(self, env_vars: dict[str, str]) -> Image:
        """Set environment variables in the image."""
        if not isinstance(env_vars, dict):
            raise ImageSpecError(f"with_env_vars: expected a dict, got {type(env_vars).__name__}")
        return self.clone(addl_layer=Env(env_vars=tuple(env_vars.items())))

    def with_workdir(self, workdir: str) -> Image:
        """Set the working directory."""
        return self.clone(addl_layer=WorkDir(workdir=workdir))

    def with_source_folder(self, src: str | Path, dst: str = ".", copy_contents_only: bool = False) -> Image:
        """Copy a local folder (filtered by ``.dockerignore``) to ``dst``.

        By default the folder itself lands in ``dst`` (``./src``); with ``copy_contents_only`` its
        contents do.
        """
        src = Path(src)
        if not copy_contents_only and dst in (".", "./"):
            dst = f"./{src.resolve().name if src.name in ('', '.', '..') else src.name}"
        return self.clone(addl_layer=CopyConfig(path_type=1, src=src, dst=dst))

    def with_source_file(self, src: str | Path | list[Path] | list[str], dst: str = ".") -> Image:
        """Copy one local file (or each of a list) to ``dst``."""
        if isinstance(src, list):
            names = [Path(p).name for p in src]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ImageSpecError(f"with_source_file: files named {dup} would overwrite each other in {dst!r}")
            img = self
            for p in src:
                img = img.clone(addl_layer=CopyConfig(path_type=0, src=Path(p), dst=dst))
            return img
        return self.clone(addl_layer=CopyConfig(path_type=0, src=Path(src), dst=dst))

    def with_dockerignore(self, path: str | Path) -> Image:
        """Filter every copied folder with this ``.dockerignore`` (instead of the folder's own)."""
        return self.clone(addl_layer=DockerIgnore(path=Path(path)))

    # -- identity ------------------------------------------------------------------------------------

    @property
    def layers(self) -> tuple[Layer, ...]:
        return self._layers

    @property
    def needs_build(self) -> bool:
        """``False`` for a bare :meth:`from_base` image, which is used as it is."""
        return self.dockerfile is not None or bool(self._layers)

    @property
    def tag(self) -> str:
        """The content hash of this image (recomputed on every access: files may have changed)."""
        from flyte.images.hashing import image_tag

        return image_tag(self)

    @property
    def uri(self) -> str:
        """``<registry>/<name>:<content hash>``, or the base URI for a bare :meth:`from_base` image."""
        if not self.needs_build:
            assert self.base_image is not None
            return self.base_image
        name = self.name or DEFAULT_IMAGE_NAME
        repo = f"{self.registry}/{name}" if self.registry else name
        return f"{repo}:{self.tag}"

    def validate(self) -> None:
        """Check, right before a build, that every file the layers read is (still) there."""
        if self.dockerfile is not None:
            _require("from_dockerfile", "file", self.dockerfile, "file")
        for layer in self._layers:
            layer.validate()


def _opt_tuple(v: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    if v is None:
        return None
    return (v,) if isinstance(v, str) else tuple(v)


__all__ = [
    "AptPackages",
    "Commands",
    "CopyConfig",
    "DockerIgnore",
    "Env",
    "Image",
    "ImageSpecError",
    "Layer",
    "PipPackages",
    "Requirements",
    "UVProject",
    "WorkDir",
]
