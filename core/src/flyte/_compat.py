"""What of the official Flyte 2 SDK's API flyte-core does not provide, and how that is reported.

A program written for the official SDK that reaches for one of these fails with one line naming
the API and pointing at docs/compatibility.md, never with an ``AttributeError`` from deep inside:

- ``flyte.X`` / ``from flyte import X`` (and in ``flyte.io``, ``flyte.errors``, ``flyte.types``...):
  the packages' ``__getattr__`` asks :func:`missing`;
- ``import flyte.remote`` (a whole module we do not have): a finder ``flyte/__init__.py`` puts at
  the end of ``sys.meta_path``, consulted only when no real module was found;
- a use inside a task body (``except flyte.errors.OOMError``, ``flyte.Checkpoint(...)``): the run
  starts by scanning the source of the task's module (:func:`check_program`), so it fails before
  any task runs.

docs/compatibility.md holds the full table (supported / partly / not); core/tests/compat keeps
the two in step and checks them against the official SDK's installed API.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from flyte.errors import NotSupportedError

_CLUSTER = "exist only with the Flyte control plane"
_CHECKPOINT = "checkpoints need a cluster's checkpoint prefixes"
_REMOTE = "the official remote objects are not provided; use `flyte get run(s)` and the flyte.Run a run returns"

# Whole modules of the official SDK that flyte-core does not have: module -> why / what instead.
UNSUPPORTED_MODULES: dict[str, str] = {
    "flyte.ai": "agent helpers are not part of flyte-core",
    "flyte.app": "apps (long-running services) need the Flyte control plane",
    "flyte.artifacts": "artifacts need the Flyte control plane",
    "flyte.clustered": "multi-node (torch/jax) tasks need a cluster",
    "flyte.connectors": "connectors need the Flyte control plane",
    "flyte.extend": "the official plugin API; flyte-core plugins use flyte.plugins (docs/plugins.md)",
    "flyte.extras": "container tasks, batchers and webhooks are not part of flyte-core",
    "flyte.notify": "notifications need the Flyte control plane",
    "flyte.prefetch": "model prefetching needs the Flyte control plane",
    "flyte.sandbox": "the official code sandbox; flyte-core has the flyte-sandbox plugin (sandbox= on tasks, "
                     "docs/sandbox.md)",
}

# Names of official modules that flyte-core has, which it does not provide: module -> name -> why.
UNSUPPORTED: dict[str, dict[str, str]] = {
    "flyte": {
        "AMD_GPU": "accelerator device classes other than GPU/TPU are not modelled",
        "APPLE_SILICON": "accelerator device classes other than GPU/TPU are not modelled",
        "AppHandle": "apps " + _CLUSTER,
        "BaseCheckpoint": _CHECKPOINT,
        "CachePolicy": "custom cache policies are not supported; use Cache(version_override=...)",
        "Checkpoint": _CHECKPOINT,
        "ConditionWebhook": "conditions " + _CLUSTER,
        "Cron": "triggers " + _CLUSTER,
        "DeviceClass": "accelerator device classes other than GPU/TPU are not modelled",
        "Documentation": "pass docs= a string",
        "Environment": "use flyte.TaskEnvironment",
        "FixedRate": "triggers " + _CLUSTER,
        "HABANA_GAUDI": "accelerator device classes other than GPU/TPU are not modelled",
        "ImageBuild": "use `flyte build FILE`",
        "Link": "links " + _CLUSTER,
        "Neuron": "accelerator device classes other than GPU/TPU are not modelled",
        "OnArtifact": "triggers " + _CLUSTER,
        "Trigger": "triggers " + _CLUSTER,
        "TriggerTime": "triggers " + _CLUSTER,
        "TriggeredArtifact": "triggers " + _CLUSTER,
        "TriggeredPartition": "triggers " + _CLUSTER,
        "build": "use `flyte build FILE`",
        "build_images": "use `flyte build FILE`",
        "deploy": "deploying needs the Flyte control plane",
        "init_from_api_key": "set FLYTE_API_KEY (docs/admin.md) and call flyte.init_from_config()",
        "init_in_cluster": "in-cluster start-up needs the Flyte control plane",
        "init_passthrough": "passthrough auth needs the Flyte control plane",
        "is_control_plane_available": "runs here are local; `flyte get run` shows them",
        "latest_checkpoint": _CHECKPOINT,
        "load_interactive_ctx": "interactive (notebook) runs against a cluster are not supported",
        "load_plugin_config": "the official plugin config is not used; flyte-core plugins are entry points",
        "new_condition": "conditions " + _CLUSTER,
        "rerun": "re-running a stored run is not supported; run the task again",
        "run_python_script": "use `flyte run FILE TASK`",
        "serve": "apps " + _CLUSTER,
        "with_servecontext": "apps " + _CLUSTER,
    },
    # attributes of what flyte.ctx() returns (the official TaskContext)
    "flyte.ctx()": {
        "checkpoint": _CHECKPOINT,
        "checkpoint_paths": _CHECKPOINT,
    },
    "flyte.models": {
        "ActionPhase": "use flyte.runtime.Phase",
        "CLUSTERED_WORKER_ENV": "multi-node tasks need a cluster",
        "CallCounter": "internal to the official SDK's controller",
        "CheckpointPaths": _CHECKPOINT,
        "CodeBundle": "code bundles are made by the remote runtime",
        "MAX_INLINE_IO_BYTES": "internal limit of the official SDK",
        "NULL_TASK_CONTEXT": "flyte.ctx() is None outside a task",
        "PathRewrite": "internal to the official SDK",
        "SerializationContext": "internal to the official SDK's deploy",
        "generate_random_name": "internal to the official SDK",
        "is_clustered_worker_env": "multi-node tasks need a cluster",
    },
    # flyte-core has a flyte.remote package of its own (the remote runtime's pieces): the official names are
    # listed one by one, so that `from flyte.remote import spec` still imports flyte-core's submodule
    "flyte.remote": {n: _REMOTE for n in (
        "Action", "ActionDetails", "ActionInputs", "ActionOutputs", "App", "Artifact", "Condition", "PartitionSchema",
        "Project", "Run", "RunDetails", "Secret", "SecretTypes", "Settings", "TaskDetails", "TimeFilter",
        "Trigger", "TriggerDetails", "User", "auth_metadata", "upload_dir", "upload_file",
    )},
    # methods of flyte.Image
    "flyte.Image": {
        "from_pixi_script": "pixi environments are not supported; use from_uv_script or with_pip_packages",
        "with_pixi_project": "pixi environments are not supported; use with_uv_project or with_pip_packages",
        "from_ref_name": "image references by name (image.refs) are not supported; use Image.from_base(uri)",
        "with_code_bundle": "the remote runtime ships the code itself; use with_source_folder to bake it in",
        "with_local_v2": "installs the official SDK's own development build",
        "with_local_v2_plugins": "installs the official SDK's own development build",
        "with_local_rs_controller": "installs the official SDK's own development build",
    },
    "flyte.config": {
        "get_config_file": "use flyte.config.get_config().source",
        "set_if_exists": "internal helper of the official SDK",
    },
    "flyte.io": {
        "DataFrame": "dataframes are not a flyte-core type yet; pass a File (e.g. parquet) instead",
        "HashFunction": "pass hash_method= a hashlib object (hashlib.sha256()) or the hash string",
        "PARQUET": "dataframes are not a flyte-core type yet",
    },
    "flyte.storage": {
        "ABFS": "storage settings come from the config file",
        "GCS": "storage settings come from the config file",
        "S3": "storage settings come from the config file",
        "Storage": "storage settings come from the config file",
        "exists_sync": "use flyte.storage.exists",
        "get_configured_fsspec_kwargs": "internal helper of the official SDK",
        "get_random_local_directory": "use tempfile.mkdtemp()",
        "get_random_local_path": "use tempfile.mkstemp()",
        "get_stream": "use File.open()",
        "get_underlying_filesystem": "use the storage backends of flyte.storage",
        "open": "use File.open()",
        "put_stream": "use File.new_remote() and open it for writing",
    },
    "flyte.types": {
        "FlytePickle": "pickled values travel without a wrapper type",
        "Renderable": "HTML renderers of types are not supported; use flyte.report",
        "guess_interface": "remote task interfaces " + _CLUSTER,
        "literal_string_repr": "use flyte.types.TypeEngine.to_python_value",
    },
}

_ERRORS_CLUSTER = [
    "ActionAbortedError", "ActionNotFoundError", "CodeBundleError", "ConditionAlreadyExistsError",
    "ConditionFailedError", "ConditionNotFoundError", "ConditionTimedoutError", "DeploymentError",
    "GPUFaultError", "GPUFaultSystemError", "GPUFaultUserError", "GPU_FAULT_CODES", "ImageBuildError",
    "ImagePullBackOffError", "InitializationError", "InvalidImageNameError", "InvalidPackageError",
    "LogsNotYetAvailableError", "OOMError", "PrimaryContainerNotFoundError", "RemoteTaskNotFoundError",
    "RemoteTaskUsageError", "ResourceExhaustedError", "SlowDownError", "TaskInterruptedError", "UnionRpcError",
    "silence_polling_error", "APPLE_SILICON_ERRORS_BY_CODE", "AppleSiliconBridgeUnreachableError",
    "AppleSiliconDaemonOOMError", "AppleSiliconDaemonStartFailedError", "AppleSiliconError",
    "AppleSiliconHostExecFailedError", "AppleSiliconModelNotFoundError", "AppleSiliconNotAvailableError",
]
_ERRORS_OTHER = [
    "BaseRuntimeError", "CustomError", "InlineIOMaxBytesBreached",
    "ModuleLoadError",
    "NotInTaskContextError", "OnlyAsyncIOSupportedError", "ParameterMaterializationError",
    "RestrictedTypeError", "RetriesExhaustedError", "RuntimeDataValidationError", "RuntimeSystemError",
    "RuntimeUnknownError", "TraceDoesNotAllowNestedTasksError",
]
UNSUPPORTED["flyte.errors"] = {
    **{n: "raised only by the Flyte control plane" for n in _ERRORS_CLUSTER},
    **{n: "flyte-core raises its own errors (flyte.errors.FlyteError and subclasses)" for n in _ERRORS_OTHER},
}


def reason(qualified: str) -> str | None:
    """Why ``qualified`` (``flyte.Checkpoint``, ``flyte.remote.Run``) is not supported; ``None`` if it is.

    Private names (``_x``) are never the official API's.
    """
    if qualified.rpartition(".")[2].startswith("_"):
        return None
    for module, why in UNSUPPORTED_MODULES.items():
        if qualified == module or qualified.startswith(module + "."):
            return why
    module, _, name = qualified.rpartition(".")
    return UNSUPPORTED.get(module, {}).get(name)


def _one_line(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    if isinstance(value, NotSupportedError):
        print(f"{kind.__name__}: {value}", file=sys.stderr)  # the message says it all; no traceback
    else:
        sys.__excepthook__(kind, value, tb)


def not_supported(message: str) -> NotSupportedError:
    """The error to raise; an uncaught one prints as one line (unless something else owns ``sys.excepthook``)."""
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _one_line
    return NotSupportedError(message)


def missing(module: str, name: str) -> Exception:
    """What a module's ``__getattr__`` raises for ``name``: NotSupportedError for official names."""
    why = reason(f"{module}.{name}")
    if why is None:
        return AttributeError(f"module {module!r} has no attribute {name!r}")
    return not_supported(str(NotSupportedError.api(f"{module}.{name}", why)))


# -- the scan before a run ---------------------------------------------------------

_scanned: dict[tuple[str, float], list[tuple[int, str]]] = {}
MAX_SCANNED_FILES = 200


@functools.cache
def _flagged_names() -> frozenset[str]:
    """The last part of every name :func:`reason` knows (``checkpoint``, ``Run``, ``extras``...)."""
    names = {m.rpartition(".")[2] for m in UNSUPPORTED_MODULES}
    for members in UNSUPPORTED.values():
        names.update(members)
    return frozenset(names)


def _uses(source: str, filename: str) -> list[tuple[int, str]]:
    """(line, qualified name) of every use of an unsupported official API in ``source``."""
    import re

    # Every part of a name noted below is an identifier of the source: a source naming none of the
    # flagged names has no use to find, and most programs are skipped without walking their syntax tree.
    if _flagged_names().isdisjoint(re.findall(r"\w+", source)):
        return []
    import ast

    tree = ast.parse(source, filename)
    aliases: dict[str, str] = {}
    found: list[tuple[int, str]] = []

    def note(line: int, qualified: str) -> None:
        parts = qualified.split(".")
        for i in range(2, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if reason(prefix) is not None:
                found.append((line, prefix))
                return

    attributes: list[ast.Attribute] = []  # read after every import is known (one walk of the tree: start-up time)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            attributes.append(node)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "flyte" or a.name.startswith("flyte."):
                    note(node.lineno, a.name)
                    if a.asname:
                        aliases[a.asname] = a.name
                    else:
                        aliases["flyte"] = "flyte"
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and (
                node.module == "flyte" or node.module.startswith("flyte.")):
            note(node.lineno, node.module)
            for a in node.names:
                qualified = f"{node.module}.{a.name}"
                note(node.lineno, qualified)
                aliases[a.asname or a.name] = qualified
    for node in attributes:
        if not isinstance(node.ctx, ast.Store):
            chain: list[str] = []
            cur: ast.expr = node
            while isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Call) and len(chain) == 1:  # flyte.ctx().checkpoint
                called = cur.func
                path: list[str] = []
                while isinstance(called, ast.Attribute):
                    path.append(called.attr)
                    called = called.value
                if isinstance(called, ast.Name) and called.id in aliases:
                    target = ".".join([aliases[called.id], *reversed(path)])
                    if target == "flyte.ctx":
                        note(node.lineno, f"flyte.ctx().{chain[0]}")
            if isinstance(cur, ast.Name) and cur.id in aliases:
                note(node.lineno, ".".join([aliases[cur.id], *reversed(chain)]))
    return sorted(set(found))


def _scan_file(path: str) -> list[tuple[int, str]]:
    import os

    try:
        key = (path, os.stat(path).st_mtime)
    except OSError:
        return []
    hit = _scanned.get(key)
    if hit is None:
        try:
            with open(path, encoding="utf-8") as f:
                hit = _uses(f.read(), path)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            hit = []
        _scanned[key] = hit
    return hit


def program_files(task: Any) -> list[str]:
    """The files of the program a run starts: the modules defining the tasks of the root task's environment
    (and the environments it depends on). flyte and its plugins are never scanned."""
    import os

    modules: list[str] = []
    envs: list[Any] = [getattr(task, "env", None)]
    seen_envs: set[int] = set()
    modules.append(getattr(getattr(task, "func", task), "__module__", "") or "")
    while envs:
        env = envs.pop()
        if env is None or id(env) in seen_envs:
            continue
        seen_envs.add(id(env))
        modules += [getattr(t.func, "__module__", "") or "" for t in getattr(env, "tasks", {}).values()]
        envs += list(getattr(env, "depends_on", []) or [])
    files: list[str] = []
    for name in dict.fromkeys(modules):
        top = name.partition(".")[0]
        if not name or top == "flyte" or top.startswith("flyte_"):
            continue
        f = getattr(sys.modules.get(name), "__file__", None)
        if f and f.endswith(".py"):
            files.append(os.path.abspath(f))
        if len(files) >= MAX_SCANNED_FILES:
            break
    return files


def _resolves(qualified: str) -> bool:
    """Whether flyte-core has ``qualified`` after all (a stale table must not stop a good program)."""
    import importlib

    module, _, name = qualified.rpartition(".")
    try:
        return hasattr(importlib.import_module(module), name)
    except Exception:
        return False


def check_program(task: Any) -> None:
    """Raise :class:`NotSupportedError` (one line: file, line, API) if the program uses unsupported official API.

    Called when a run starts, before any task runs: uses inside task bodies are found too.
    """
    for path in program_files(task):
        uses = [u for u in _scan_file(path) if not _resolves(u[1])]
        if uses:
            line, qualified = uses[0]
            more = f" (and {len(uses) - 1} more use(s))" if len(uses) > 1 else ""
            what = NotSupportedError.api(qualified, reason(qualified) or "")
            raise not_supported(f"{path}:{line}: {what}{more}")
