"""The layers of a :class:`flyte.Image` and the validation each does when it is created.

Only the standard library is imported here, like :mod:`flyte._image`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Literal

from flyte.errors import FlyteError

SKIP_FILE_CHECKS_ENV = "FLYTE_IMAGE_SKIP_FILE_CHECKS"
"""Set to ``1`` where image definitions are imported but never built (inside a task's container),
so that layers naming local files do not fail there. :meth:`Image.validate` still checks them."""

InstallMode = Literal["dependencies_only", "install_project"]


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


def _secret_mounts(layer: str, value: Any) -> tuple[Any, ...] | None:
    """``secret_mounts=`` as the official SDK takes it: a key, a ``flyte.Secret``, or a list of them."""
    if value is None:
        return None
    items = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    for s in items:
        if isinstance(s, str):
            if not s.strip():
                raise ImageSpecError(f"{layer}: secret_mounts entries must be non-empty, got {s!r}")
        elif not isinstance(getattr(s, "key", None), str):
            raise ImageSpecError(f"{layer}: secret_mounts takes secret keys or flyte.Secret objects, got {s!r}")
    return items or None


def _secret_canonical(s: Any) -> dict[str, Any]:
    # a bare key and Secret(key=...) are the same request; only names go into the hash, never values
    if isinstance(s, str):
        return {"key": s, "group": None, "mount": None, "as_env_var": None}
    mount = getattr(s, "mount", None)
    return {
        "key": s.key,
        "group": getattr(s, "group", None),
        "mount": str(mount) if mount is not None else None,
        "as_env_var": getattr(s, "as_env_var", None),
    }


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
            if f.name == "secret_mounts":
                if v:
                    out[f.name] = [_secret_canonical(x) for x in v]
                continue
            out[f.name] = v.name if isinstance(v, Path) else v
        return out

    @property
    def secrets(self) -> tuple[Any, ...]:
        """Secrets this layer asks to mount while it builds (``secret_mounts=``)."""
        return tuple(getattr(self, "secret_mounts", None) or ())

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
    secret_mounts: tuple[Any, ...] | None = None

    def _check_pip_options(self, layer: str) -> None:
        object.__setattr__(self, "secret_mounts", _secret_mounts(layer, self.secret_mounts))
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


_ARCHIVES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


def _is_local_package(spec: str) -> bool:
    """A package given as a local path, as pip takes it: ``./dist/pkg.whl``, ``../lib``, ``/abs/pkg.tar.gz``."""
    if "://" in spec:
        return False
    return spec.startswith(("./", "../", "/", "~")) or spec in (".", "..") or spec.endswith(_ARCHIVES)


@dataclass(frozen=True, kw_only=True)
class PipPackages(PipOptions, Layer):
    """``pip install`` of package specs (PEP 508 requirements or URLs) or of local wheels,
    sdists and project folders (``./dist/pkg.whl``), which are copied into the build and hashed."""

    kind: ClassVar[str] = "pip"
    packages: tuple[str, ...]

    def __post_init__(self) -> None:
        pkgs = _strings("with_pip_packages", "package", self.packages)
        if not pkgs:
            raise ImageSpecError("with_pip_packages: give at least one package")
        names: list[str] = []
        for p in pkgs:
            if p.startswith("-"):
                raise ImageSpecError(f"with_pip_packages: {p!r} is an option, not a package; pass it as extra_args=")
            if _is_local_package(p.strip()):
                path = Path(p.strip()).expanduser()
                if _check_files():
                    if not path.exists():
                        raise ImageSpecError(
                            f"with_pip_packages: local package {p!r} does not exist (resolved to {path.absolute()})"
                        )
                    if path.is_dir() and not (
                        (path / "pyproject.toml").is_file() or (path / "setup.py").is_file()
                    ):
                        raise ImageSpecError(
                            f"with_pip_packages: folder {p!r} is not a Python project (no pyproject.toml or setup.py)"
                        )
                names.append(_local_name(path))
                continue
            if not (_match("requirement", p.strip()) or _match("url_requirement", p.strip())):
                raise ImageSpecError(
                    f"with_pip_packages: {p!r} is not a valid package spec "
                    "(expected e.g. 'pandas', 'pandas>=2,<3', 'pkg[extra]==1.0', 'name @ https://...' "
                    "or a local './dist/pkg.whl')"
                )
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ImageSpecError(f"with_pip_packages: local packages named {dup} would overwrite each other")
        object.__setattr__(self, "packages", pkgs)
        self._check_pip_options("with_pip_packages")

    def local_packages(self) -> tuple[Path, ...]:
        return tuple(Path(p.strip()).expanduser() for p in self.packages if _is_local_package(p.strip()))

    def sources(self) -> tuple[tuple[Path, Literal["file", "dir"]], ...]:
        # checked at build time (validate), not here: the container that imports this has no such files
        return tuple((p, "dir" if p.is_dir() else "file") for p in self.local_packages())

    def canonical(self) -> dict[str, Any]:
        out = super().canonical()
        # a local package counts by its name and content (see sources), never by where it is on this machine
        out["packages"] = [
            f"local:{_local_name(Path(p.strip()).expanduser())}" if _is_local_package(p.strip()) else p
            for p in self.packages
        ]
        return out


def _local_name(p: Path) -> str:
    return p.name if p.name not in ("", ".", "..") else p.resolve().name


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


def read_script_metadata(script: Path) -> dict[str, Any]:
    """The PEP 723 ``# /// script`` block of a Python file, parsed (``{}`` when it has none).

    A block starts with a line ``# /// script``, ends with ``# ///``, and every line between is
    ``#`` or ``# `` followed by TOML. Two ``script`` blocks are an error, as the PEP says.
    """
    import tomllib

    blocks: list[tuple[int, list[str]]] = []
    current: list[str] | None = None
    start = 0
    for n, line in enumerate(script.read_text(encoding="utf-8").splitlines(), 1):
        if current is None:
            if line.rstrip() == "# /// script":
                current, start = [], n
            continue
        if line.rstrip() == "# ///":
            blocks.append((start, current))
            current = None
        elif line == "#" or line.startswith("# "):
            current.append(line[2:])
        else:  # the block ended without its closing line: not a metadata block
            current = None
    if len(blocks) > 1:
        raise ImageSpecError(f"from_uv_script: {script} has {len(blocks)} '# /// script' blocks (lines "
                             f"{', '.join(str(b[0]) for b in blocks)}); PEP 723 allows one")
    if not blocks:
        return {}
    try:
        return tomllib.loads("\n".join(blocks[0][1]))
    except tomllib.TOMLDecodeError as e:
        raise ImageSpecError(f"from_uv_script: the '# /// script' block of {script} (line {blocks[0][0]}) is "
                             f"not valid TOML: {e}") from None


@dataclass(frozen=True, kw_only=True)
class UVScript(PipOptions, Layer):
    """Install the dependencies a script's PEP 723 header declares (``# /// script``).

    Only the header counts, not the script's code: editing the code does not change the image.
    """

    kind: ClassVar[str] = "uv_script"
    script: Path
    dependencies: tuple[str, ...] = ()
    requires_python: str | None = None

    def __post_init__(self) -> None:
        p = _path("from_uv_script", "script", self.script, kind="file", must_exist=True)
        object.__setattr__(self, "script", p)
        if p.is_file():  # also where file checks are off: the header is what the image is hashed over
            meta = read_script_metadata(p)
            if not meta and _check_files():
                raise ImageSpecError(
                    f"from_uv_script: {p} has no PEP 723 header; start it with\n"
                    "# /// script\n# dependencies = [\"httpx\"]\n# ///"
                )
            deps = meta.get("dependencies", [])
            if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
                raise ImageSpecError(f"from_uv_script: 'dependencies' in the header of {p} must be a list of strings")
            for d in deps:
                if not (_match("requirement", d.strip()) or _match("url_requirement", d.strip())):
                    raise ImageSpecError(f"from_uv_script: dependency {d!r} in the header of {p} is not a valid "
                                         "requirement (e.g. 'httpx>=0.27')")
            rp = meta.get("requires-python")
            if rp is not None and not isinstance(rp, str):
                raise ImageSpecError(f"from_uv_script: 'requires-python' in the header of {p} must be a string")
            object.__setattr__(self, "dependencies", tuple(d.strip() for d in deps))
            object.__setattr__(self, "requires_python", rp)
        self._check_pip_options("from_uv_script")

    def canonical(self) -> dict[str, Any]:
        out = super().canonical()
        del out["script"]  # the header decides the image, not the script's name or code
        return out


@dataclass(frozen=True, kw_only=True)
class PoetryProject(Layer):
    """Install a Poetry project's locked dependencies (and, with ``install_project``, the project)."""

    kind: ClassVar[str] = "poetry_project"
    pyproject: Path
    poetry_lock: Path
    extra_args: str | None = None
    secret_mounts: tuple[Any, ...] | None = None
    project_install_mode: InstallMode = "dependencies_only"

    def __post_init__(self) -> None:
        p = _path("with_poetry_project", "pyproject_file", self.pyproject, kind="file", must_exist=True)
        if p.name != "pyproject.toml":
            raise ImageSpecError(f"with_poetry_project: pyproject_file {str(p)!r} must be a pyproject.toml")
        object.__setattr__(self, "pyproject", p)
        lock = _path("with_poetry_project", "poetry_lock", self.poetry_lock, kind="file", must_exist=True)
        object.__setattr__(self, "poetry_lock", lock)
        if self.project_install_mode not in ("dependencies_only", "install_project"):
            raise ImageSpecError(
                f"with_poetry_project: project_install_mode must be 'dependencies_only' or 'install_project', "
                f"got {self.project_install_mode!r}"
            )
        if self.extra_args is not None:
            _strings("with_poetry_project", "extra_args", self.extra_args)
        object.__setattr__(self, "secret_mounts", _secret_mounts("with_poetry_project", self.secret_mounts))

    def sources(self) -> tuple[tuple[Path, Literal["file", "dir"]], ...]:
        if self.project_install_mode == "install_project":
            return ((self.pyproject.parent, "dir"),)
        return ((self.pyproject, "file"), (self.poetry_lock, "file"))

    def canonical(self) -> dict[str, Any]:
        out = super().canonical()
        out["pyproject"] = "pyproject.toml"
        out["poetry_lock"] = "poetry.lock"
        return out


@dataclass(frozen=True, kw_only=True)
class PythonWheels(PipOptions, Layer):
    """Install ``package_name`` from the wheels in a local folder (the official SDK's ``PythonWheels``).

    Every ``.whl`` in ``wheel_dir`` is copied into the build and hashed.
    """

    kind: ClassVar[str] = "python_wheels"
    wheel_dir: Path
    package_name: str

    def __post_init__(self) -> None:
        d = _path("PythonWheels", "wheel_dir", self.wheel_dir, kind="dir", must_exist=True)
        object.__setattr__(self, "wheel_dir", d)
        if not _match("requirement", _strings("PythonWheels", "package_name", self.package_name)[0].strip()):
            raise ImageSpecError(f"PythonWheels: package_name {self.package_name!r} is not a package name")
        if _check_files() and not any(d.glob("*.whl")):
            raise ImageSpecError(f"PythonWheels: {d} holds no .whl files; build them first (e.g. `uv build`)")
        self._check_pip_options("PythonWheels")

    def sources(self) -> tuple[tuple[Path, Literal["file", "dir"]], ...]:
        return tuple((w, "file") for w in sorted(self.wheel_dir.glob("*.whl")))

    def canonical(self) -> dict[str, Any]:
        out = super().canonical()
        out["wheel_dir"] = "wheels"
        return out


@dataclass(frozen=True)
class AptPackages(Layer):
    """``apt-get install`` of Debian packages."""

    kind: ClassVar[str] = "apt"
    packages: tuple[str, ...]
    secret_mounts: tuple[Any, ...] | None = None

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
        object.__setattr__(self, "secret_mounts", _secret_mounts("with_apt_packages", self.secret_mounts))

    def canonical(self) -> dict[str, Any]:
        out = super().canonical()
        out["packages"] = sorted(self.packages)  # apt installs them together: the order means nothing
        return out


@dataclass(frozen=True)
class Commands(Layer):
    """Shell commands, one ``RUN`` each."""

    kind: ClassVar[str] = "commands"
    commands: tuple[str, ...]
    secret_mounts: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        cmds = _strings("with_commands", "command", self.commands)
        if not cmds:
            raise ImageSpecError("with_commands: give at least one command")
        for c in cmds:
            if re.match(r"^\s*RUN\s", c):
                raise ImageSpecError(f"with_commands: {c!r} starts with RUN; give the shell command only")
        object.__setattr__(self, "commands", cmds)
        object.__setattr__(self, "secret_mounts", _secret_mounts("with_commands", self.secret_mounts))


@dataclass(frozen=True)
class Env(Layer):
    """Environment variables set in the image. Values are literal: ``$`` and ``\\`` are kept as
    written (no ``$VAR`` expansion), and numbers or booleans are converted with ``str()``."""

    kind: ClassVar[str] = "env"
    env_vars: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        pairs: list[tuple[str, str]] = []
        for kv in self.env_vars:
            if not isinstance(kv, (tuple, list)) or len(kv) != 2:
                raise ImageSpecError(f"with_env_vars: expected (name, value) pairs, got {kv!r}")
            k, v = kv
            if not isinstance(k, str) or not _match("env_name", k):
                raise ImageSpecError(f"with_env_vars: {k!r} is not a valid environment variable name")
            if isinstance(v, (int, float, os.PathLike)):  # the official SDK takes these (bool is an int)
                v = str(v)
            if not isinstance(v, str):
                raise ImageSpecError(
                    f"with_env_vars: value of {k} must be a string (or a number), got {type(v).__name__}"
                )
            if any(c in v for c in "\n\r\0"):
                raise ImageSpecError(f"with_env_vars: value of {k} contains a newline or NUL character")
            if any(k == seen for seen, _ in pairs):
                raise ImageSpecError(f"with_env_vars: {k} is given twice")
            pairs.append((k, v))
        object.__setattr__(self, "env_vars", tuple(pairs))

    @classmethod
    def from_dict(cls, envs: dict[str, Any]) -> Env:
        return cls(env_vars=tuple(envs.items()))

    def canonical(self) -> dict[str, Any]:
        # values are literal, so no variable refers to another: the order of the keys means nothing
        return {"kind": self.kind, "env_vars": sorted([k, v] for k, v in self.env_vars)}


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
