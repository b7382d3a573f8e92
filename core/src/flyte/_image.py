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

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from flyte import __version__
from flyte.images.hashing import image_tag

# The layer classes live in flyte.images.layers; they are re-exported here as part of this module's API.
from flyte.images.layers import (
    SKIP_FILE_CHECKS_ENV,
    AptPackages,
    Commands,
    CopyConfig,
    DockerIgnore,
    Env,
    ImageSpecError,
    InstallMode,
    Layer,
    PipOptions,
    PipPackages,
    PoetryProject,
    PythonWheels,
    Requirements,
    UVProject,
    UVScript,
    WorkDir,
    _match,
    _path,
    _require,
    _strings,
)

if TYPE_CHECKING:
    from flyte._secret import Secret

    SecretRequest = str | Secret | list[str | Secret] | tuple[str | Secret, ...]

__all__ = [
    "DEFAULT_IMAGE_NAME",
    "SKIP_FILE_CHECKS_ENV",
    "AptPackages",
    "Architecture",
    "Commands",
    "CopyConfig",
    "DockerIgnore",
    "Env",
    "Image",
    "ImageSpecError",
    "InstallMode",
    "Layer",
    "PipOptions",
    "PipPackages",
    "PoetryProject",
    "PythonWheels",
    "Requirements",
    "UVProject",
    "UVScript",
    "WorkDir",
]

Architecture = Literal["linux/amd64", "linux/arm64"]

DEFAULT_IMAGE_NAME = "flyte"
"""Name given to images that do not choose one (``from_debian_base`` and layered ``from_base``)."""

DEBIAN_BASE_TEMPLATE = "python:{major}.{minor}-slim-bookworm"
"""The base of :meth:`Image.from_debian_base`: the official Python image on Debian bookworm."""


_PLATFORMS = ("linux/amd64", "linux/arm64")


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


def _not_supported(name: str) -> Any:
    """An official ``Image`` method flyte-core lacks: calling it is a NotSupportedError naming it
    (``not_supported`` marks it for core/tests/compat, which keeps docs/compatibility.md true)."""

    def method(*args: Any, **kwargs: Any) -> Any:
        from flyte._compat import missing

        raise missing("flyte.Image", name)

    method.__name__ = method.__qualname__ = name
    method.not_supported = True  # type: ignore[attr-defined]
    return method


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
    extendable: bool = field(default=True, compare=False)
    """``False`` refuses more layers (``clone(extendable=False)``); images are extendable by default."""
    registry_secret: str | Secret | None = field(default=None, compare=False, repr=False)
    """The secret the official SDK's remote builder uses for a private registry. Accepted and kept for
    code written for it; the local builders take credentials from the Docker and flyte configs."""

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
        registry_secret: str | Secret | None = None,
        name: str | None = None,
        platform: Architecture | tuple[Architecture, ...] | None = None,
    ) -> Image:
        """The official Python image on Debian bookworm, with flyte installed.

        ``python_version`` defaults to the running interpreter's; ``flyte_version`` to this SDK's.
        The parameters are those of the official SDK, in its order; ``registry_secret`` is kept on
        the image (see :attr:`registry_secret`).
        """
        pv = _python_version(python_version) if python_version is not None else sys.version_info[:2]
        img = cls(
            base_image=DEBIAN_BASE_TEMPLATE.format(major=pv[0], minor=pv[1]),
            registry=registry,
            name=name or DEFAULT_IMAGE_NAME,
            platform=_platforms(platform) if platform else ("linux/amd64",),
            python_version=(pv[0], pv[1]),
            registry_secret=registry_secret,
        )
        img = img.with_workdir("/root").with_env_vars({"PYTHONPATH": "/root", "PYTHONUNBUFFERED": "1"})
        if install_flyte:
            if flyte_version is None:
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

    @classmethod
    def from_uv_script(
        cls,
        script: Path | str,
        *,
        name: str,
        registry: str | None = None,
        registry_secret: str | Secret | None = None,
        python_version: tuple[int, int] | None = None,
        index_url: str | None = None,
        extra_index_urls: str | list[str] | tuple[str, ...] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
        platform: Architecture | tuple[Architecture, ...] | None = None,
        secret_mounts: SecretRequest | None = None,
    ) -> Image:
        """An image with the dependencies a script declares in its PEP 723 header.

        The header looks like this (``uv run --script`` reads the same one)::

            # /// script
            # requires-python = ">=3.12"
            # dependencies = ["httpx", "flyte-core"]
            # ///

        As in the official SDK, flyte itself is not added: list it among the dependencies. The Python
        version is ``python_version``, else the running interpreter's, raised to the lowest one
        ``requires-python`` allows (``>=3.12`` on 3.11 gives 3.12). Only the header is hashed: editing
        the script's code does not change the image.
        """
        layer = UVScript(
            script=Path(script),
            index_url=index_url,
            extra_index_urls=_opt_tuple(extra_index_urls),
            pre=pre,
            extra_args=extra_args,
            secret_mounts=_secret_tuple(secret_mounts),
        )
        if python_version is None:
            python_version = _python_for(layer.requires_python)
        img = cls.from_debian_base(python_version=python_version, install_flyte=False, registry=registry,
                                   registry_secret=registry_secret, name=name, platform=platform)
        return img.clone(addl_layer=layer)

    # -- the official SDK's image methods flyte-core does not provide: one clear error each -----------

    from_pixi_script: ClassVar[Any] = classmethod(_not_supported("from_pixi_script"))
    from_ref_name: ClassVar[Any] = classmethod(_not_supported("from_ref_name"))
    with_pixi_project = _not_supported("with_pixi_project")
    with_code_bundle = _not_supported("with_code_bundle")
    with_local_v2 = _not_supported("with_local_v2")
    with_local_v2_plugins = _not_supported("with_local_v2_plugins")
    with_local_rs_controller = _not_supported("with_local_rs_controller")

    # -- derived images ------------------------------------------------------------------------------

    def clone(
        self,
        registry: str | None = None,
        registry_secret: str | Secret | None = None,
        name: str | None = None,
        base_image: str | None = None,
        python_version: tuple[int, int] | None = None,
        addl_layer: Layer | None = None,
        extendable: bool | None = None,
        platform: Architecture | tuple[Architecture, ...] | None = None,
    ) -> Image:
        """A copy with another registry, name, base, Python version or platform, or one more layer.

        The parameters are the official SDK's, in its order. There every image must be cloned with
        ``extendable=True`` before layers are added; here images are extendable unless a clone says
        ``extendable=False``, so code written either way runs.
        """
        if addl_layer is not None and not self.extendable:
            raise ImageSpecError(
                "cannot add layers to an image cloned with extendable=False; clone it with extendable=True first"
            )
        changes: dict[str, Any] = {}
        if registry is not None:
            changes["registry"] = registry
        if registry_secret is not None:
            changes["registry_secret"] = registry_secret
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
        if extendable is not None:
            changes["extendable"] = bool(extendable)
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
        secret_mounts: SecretRequest | None = None,
    ) -> Image:
        """Install Python packages: ``.with_pip_packages("pandas>=2", "requests")``.

        A package may be a local wheel, sdist or project folder (``"./dist/pkg-1.0-py3-none-any.whl"``):
        it is copied into the build and its content is part of the image hash. ``secret_mounts`` (as
        in the official SDK) is hashed, but the local builders refuse to build it (no BuildKit).
        """
        return self.clone(
            addl_layer=PipPackages(
                packages=packages,
                index_url=index_url,
                extra_index_urls=_opt_tuple(extra_index_urls),
                pre=pre,
                extra_args=extra_args,
                secret_mounts=_secret_tuple(secret_mounts),
            )
        )

    def with_requirements(
        self,
        file: str | Path,
        index_url: str | None = None,
        extra_index_urls: str | list[str] | tuple[str, ...] | None = None,
        pre: bool = False,
        extra_args: str | None = None,
        secret_mounts: SecretRequest | None = None,
    ) -> Image:
        """Install a ``requirements.txt``; its content is part of the image hash."""
        return self.clone(
            addl_layer=Requirements(
                file=Path(file),
                index_url=index_url,
                extra_index_urls=_opt_tuple(extra_index_urls),
                pre=pre,
                extra_args=extra_args,
                secret_mounts=_secret_tuple(secret_mounts),
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
        secret_mounts: SecretRequest | None = None,
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
                secret_mounts=_secret_tuple(secret_mounts),
                project_install_mode=project_install_mode,
            )
        )

    def with_poetry_project(
        self,
        pyproject_file: str | Path,
        poetry_lock: Path | None = None,
        extra_args: str | None = None,
        secret_mounts: SecretRequest | None = None,
        project_install_mode: InstallMode = "dependencies_only",
    ) -> Image:
        """Install a Poetry project's locked dependencies (``poetry install --no-root``), or with
        ``project_install_mode="install_project"`` the whole project folder.

        ``poetry_lock`` defaults to the ``poetry.lock`` beside the pyproject; both files (or the
        project folder) are hashed.
        """
        pyproject = Path(pyproject_file)
        return self.clone(
            addl_layer=PoetryProject(
                pyproject=pyproject,
                poetry_lock=Path(poetry_lock) if poetry_lock is not None else pyproject.parent / "poetry.lock",
                extra_args=extra_args,
                secret_mounts=_secret_tuple(secret_mounts),
                project_install_mode=project_install_mode,
            )
        )

    def with_apt_packages(self, *packages: str, secret_mounts: SecretRequest | None = None) -> Image:
        """Install Debian packages: ``.with_apt_packages("git", "curl")``."""
        return self.clone(addl_layer=AptPackages(packages=packages, secret_mounts=_secret_tuple(secret_mounts)))

    def with_commands(
        self, commands: list[str] | tuple[str, ...] | str, secret_mounts: SecretRequest | None = None
    ) -> Image:
        """Run shell commands at build time, one ``RUN`` each (without the ``RUN``)."""
        return self.clone(
            addl_layer=Commands(
                commands=_strings("with_commands", "commands", commands), secret_mounts=_secret_tuple(secret_mounts)
            )
        )

    def with_env_vars(self, env_vars: dict[str, Any]) -> Image:
        """Set environment variables in the image.

        Values are set exactly as written: ``$`` and backslashes are not expanded (``"$PATH"`` is
        the four characters, not the base image's ``PATH``). Numbers and booleans are converted with
        ``str()``, as the official SDK does. The order of the keys does not change the image.
        """
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


def _python_for(requires_python: str | None) -> tuple[int, int]:
    """The running interpreter's version, raised to the lowest ``>=X.Y`` / ``~=X.Y`` / ``==X.Y`` allows."""
    import re

    current = sys.version_info[:2]
    if not requires_python:
        return (current[0], current[1])
    lows = [(int(m.group(1)), int(m.group(2)))
            for m in re.finditer(r"(?:>=|~=|==|>)\s*(\d+)\.(\d+)", requires_python)]
    low = max(lows) if lows else current
    return (low[0], low[1]) if low > current else (current[0], current[1])


def _secret_tuple(v: SecretRequest | None) -> tuple[Any, ...] | None:
    if v is None:
        return None
    return tuple(v) if isinstance(v, (list, tuple)) else (v,)


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
