"""``flyte-core-worker``: the entry point a task's container runs (the Flyte 2 worker contract).

The backend runs ``flyte-core-worker --inputs ... --outputs-path ... --raw-data-path ... --tgz
BUNDLE --dest . --resolver flyte.remote mod MODULE instance TASK`` with the placeholders filled
in and this environment: ``ACTION_NAME``, ``RUN_NAME``, ``_U_RUN_BASE`` (the run's base folder),
``_U_ORG_NAME``, ``FLYTE_INTERNAL_EXECUTION_PROJECT``/``_DOMAIN``, ``_U_EP_OVERRIDE`` and
``_U_INSECURE`` (how to reach the control plane for child actions), ``_U_USE_ACTIONS`` (children
through ActionsService rather than QueueService) and ``FLYTE_ATTEMPT_NUMBER``.

It downloads and safely extracts the bundle, imports the task, reads ``inputs.pb``, runs the body
through :func:`flyte.runtime.controller.execute_body` with an
:class:`~flyte.remote.controller.ActionsController` (child calls become child actions) and writes
``outputs.pb``, or ``error.pb`` when anything failed. It exits 0 either way: the backend reads
``error.pb`` first. Only when even ``error.pb`` cannot be written does it exit 1.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

_FLAGS = {
    "--inputs": "inputs", "-i": "inputs",
    "--outputs-path": "outputs_path", "-o": "outputs_path",
    "--version": "version", "-v": "version",
    "--run-base-dir": "run_base_dir",
    "--raw-data-path": "raw_data_path", "-r": "raw_data_path",
    "--checkpoint-path": "checkpoint_path", "-c": "checkpoint_path",
    "--prev-checkpoint": "prev_checkpoint", "-p": "prev_checkpoint",
    "--name": "name", "--run-name": "run_name", "--run-start-time": "run_start_time",
    "--project": "project", "--domain": "domain", "--org": "org",
    "--tgz": "tgz", "--pkl": "pkl", "--dest": "dest", "--image-cache": "image_cache",
    "--debug": "debug", "--interactive-mode": "interactive_mode",
}


class UsageError(Exception):
    pass


@dataclass
class WorkerArgs:
    inputs: str = ""
    outputs_path: str = ""
    version: str = ""
    run_base_dir: str = ""
    raw_data_path: str = ""
    checkpoint_path: str = ""
    prev_checkpoint: str = ""
    name: str = ""
    run_name: str = ""
    run_start_time: str = ""
    project: str = ""
    domain: str = ""
    org: str = ""
    tgz: str = ""
    pkl: str = ""
    dest: str = "."
    image_cache: str = ""
    debug: str = ""
    interactive_mode: str = ""
    resolver: str = ""
    resolver_args: list[str] = field(default_factory=list)
    endpoint: str = ""
    insecure: bool = False
    use_actions: bool = False
    attempt: int = 0


def _unfilled(v: str) -> bool:
    return not v or v.startswith("{{")


def parse_args(argv: list[str], env: dict[str, str] | os._Environ[str]) -> WorkerArgs:
    """The contract's args (``--flag value``; everything after ``--resolver R`` is the resolver's) and env."""
    a = WorkerArgs()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--resolver":
            if i + 1 >= len(argv):
                raise UsageError("--resolver needs a value")
            a.resolver = argv[i + 1]
            a.resolver_args = list(argv[i + 2:])
            break
        flag, eq, inline = arg.partition("=")
        attr = _FLAGS.get(flag)
        if attr is None:
            raise UsageError(f"unknown option {arg!r}")
        if eq:
            value = inline
            i += 1
        else:
            if i + 1 >= len(argv):
                raise UsageError(f"{arg} needs a value")
            value = argv[i + 1]
            i += 2
        setattr(a, attr, value)
    if _unfilled(a.name):
        a.name = env.get("ACTION_NAME", "")
    if _unfilled(a.run_name):
        a.run_name = env.get("RUN_NAME", "")
    a.run_base_dir = a.run_base_dir if not _unfilled(a.run_base_dir) else env.get("_U_RUN_BASE", "")
    a.project = a.project or env.get("FLYTE_INTERNAL_EXECUTION_PROJECT", "")
    a.domain = a.domain or env.get("FLYTE_INTERNAL_EXECUTION_DOMAIN", "")
    a.org = a.org or env.get("_U_ORG_NAME", "")
    a.endpoint = env.get("_U_EP_OVERRIDE", "")
    a.insecure = env.get("_U_INSECURE", "").lower() in ("1", "true", "yes")
    a.use_actions = env.get("_U_USE_ACTIONS", "").lower() in ("1", "true", "yes")
    try:
        a.attempt = int(env.get("FLYTE_ATTEMPT_NUMBER", "0") or 0)
    except ValueError:
        a.attempt = 0
    missing = [f for f in ("inputs", "outputs_path", "name", "run_name", "run_base_dir") if not getattr(a, f)]
    if missing:
        raise UsageError("missing " + ", ".join(missing) + " (from the args or ACTION_NAME/RUN_NAME/_U_RUN_BASE)")
    for f in ("raw_data_path", "checkpoint_path", "prev_checkpoint"):
        if _unfilled(getattr(a, f)):
            setattr(a, f, "")
    return a


class _NoControlPlane:
    """The controller of an action started without ``_U_EP_OVERRIDE``: it cannot launch children."""

    def _refuse(self, task: Any) -> Any:
        raise SystemFailure(
            f"task {task.name} was called as a child action, but the worker was started without _U_EP_OVERRIDE "
            "(the control plane's endpoint), so it cannot launch child actions"
        )

    async def submit(self, task: Any, args: Any, kwargs: Any) -> Any:
        return self._refuse(task)

    def submit_sync(self, task: Any, args: Any, kwargs: Any) -> Any:
        return self._refuse(task)


class SystemFailure(Exception):
    """The worker itself could not do its part (bundle, loading the task, control plane): a system error."""


def _load_bundle(a: WorkerArgs) -> str:
    """Download and extract the bundle; returns the folder to import from."""
    import tempfile

    import flyte.storage as storage
    from flyte.remote.bundle import safe_extract

    dest = os.path.abspath(a.dest or ".")
    if a.pkl:
        raise SystemFailure("pickled code bundles (--pkl) are not supported by flyte-core-worker; use --tgz")
    if not a.tgz:
        return dest
    from flyte.remote.io import local_path

    here = local_path(a.tgz)
    if here is not None:
        try:
            safe_extract(here, dest)
        except Exception as e:
            raise SystemFailure(f"could not extract the code bundle {here}: {e}") from e
        return dest
    with tempfile.TemporaryDirectory(prefix="flyte-bundle-") as tmp:
        local = os.path.join(tmp, "bundle.tgz")
        try:
            with storage.open_sync(a.tgz, "rb") as src, open(local, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
        except Exception as e:
            raise SystemFailure(f"could not download the code bundle {storage.redact_url(a.tgz)}: {e}") from e
        try:
            safe_extract(local, dest)
        except Exception as e:
            raise SystemFailure(f"could not extract the code bundle: {e}") from e
    return dest


def load_task(resolver: str, resolver_args: list[str], root: str) -> Any:
    """The task named by the resolver args (``mod MODULE instance NAME``), imported from ``root``."""
    import importlib

    from flyte._task import TaskTemplate

    if resolver != "flyte.remote":
        raise SystemFailure(f"unknown --resolver {resolver!r}; flyte-core-worker understands 'flyte.remote'")
    opts = dict(zip(resolver_args[::2], resolver_args[1::2], strict=False))
    module_name, task_name = opts.get("mod"), opts.get("instance")
    if not module_name or not task_name:
        raise SystemFailure(f"resolver args {resolver_args!r} must be: mod MODULE instance TASK")
    if root not in sys.path:
        sys.path.insert(0, root)
    importlib.invalidate_caches()  # the bundle was just extracted: finders must not trust their cached listings
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise SystemFailure(f"module {module_name!r} is not in the code bundle or the image: {e}") from e
        raise _user_import_error(module_name, e) from e
    except Exception as e:  # the user's module raised while being imported: the user's error, as it would be locally
        raise _user_import_error(module_name, e) from e
    short = task_name.rsplit(".", 1)[-1]
    candidate = getattr(module, short, None)
    if isinstance(candidate, TaskTemplate) and candidate.name == task_name:
        return candidate
    for value in vars(module).values():
        if isinstance(value, TaskTemplate) and value.name == task_name:
            return value
    raise SystemFailure(f"module {module_name!r} has no task named {task_name!r}")


def _user_import_error(module_name: str, e: BaseException) -> Exception:
    from flyte.errors import RuntimeUserError

    return RuntimeUserError(type(e).__name__, f"importing module {module_name!r} failed: {type(e).__name__}: {e}")


async def run_action(a: WorkerArgs) -> None:
    """Everything between reading the args and writing outputs.pb/error.pb (raises on failure)."""
    import asyncio

    from flyte._context import ActionID, RawDataPath, TaskContext
    from flyte.errors import RuntimeUserError
    from flyte.remote import io
    from flyte.remote.controller import ActionsController
    from flyte.remote.spec import SpecContext, decode_images
    from flyte.runtime.body import InProcessBodyRunner
    from flyte.runtime.controller import execute_body
    from flyte.runtime.records import ActionRecord

    try:
        root = await asyncio.to_thread(_load_bundle, a)
        task = load_task(a.resolver, a.resolver_args, root)
        in_lits = await io.read_inputs(a.inputs)
    except (SystemFailure, RuntimeUserError):
        raise
    except Exception as e:
        raise SystemFailure(f"{type(e).__name__}: {e}") from e

    controller: ActionsController | None = None
    if a.endpoint:
        endpoint, insecure = a.endpoint, a.insecure

        async def connect_to_control_plane() -> Any:
            from flyte.admin import AdminSettings, connect

            try:
                settings = AdminSettings.from_config(endpoint=endpoint, insecure=insecure)
            except Exception:
                settings = AdminSettings(endpoint=endpoint, insecure=insecure)
            return await connect(settings)

        spec_ctx = SpecContext(project=a.project, domain=a.domain, org=a.org, version=a.version,
                               bundle_uri=a.tgz or None, images=decode_images(a.image_cache))
        controller = ActionsController(connect_to_control_plane, org=a.org, project=a.project, domain=a.domain,
                                       run_name=a.run_name, parent=a.name, run_base_dir=a.run_base_dir,
                                       spec_context=spec_ctx, use_actions=a.use_actions)
    runner = InProcessBodyRunner()
    if controller is not None:
        runner.attach(controller, 1000)
        controller.runner = runner
    else:
        runner.attach(_NoControlPlane(), 1000)  # type: ignore[arg-type]
    raw = a.raw_data_path or io.join(a.run_base_dir, f"{a.name}/raw")
    tc = TaskContext(
        action=ActionID(name=a.name, run_name=a.run_name, project=a.project or None, domain=a.domain or None),
        raw_data_path=RawDataPath(raw),
        run_base_dir=a.run_base_dir,
        mode="remote",
        task_name=task.name,
        attempt=a.attempt,
        controller=controller if controller is not None else runner.controller,
        version=a.version or "remote",
    )
    record = ActionRecord(a.name, task.name, None)
    try:
        out_lits = await execute_body(task, in_lits, tc, runner, record)
        data = io.outputs_message(out_lits).SerializeToString(deterministic=True)
        await io.write_bytes(io.join(a.outputs_path, io.OUTPUTS), data)
    finally:
        if task.report:
            await _save_report(tc, a.outputs_path)
        await runner.close()
        if controller is not None:
            await controller.close()


async def _save_report(tc: Any, outputs_path: str) -> None:
    """A ``report=True`` task's page, also as ``<attempt folder>/report.html`` where the backend serves it from."""
    from flyte.remote import io
    from flyte.report._report import _DATA_KEY

    report = tc.data.get(_DATA_KEY)
    if report is not None:
        await io.write_bytes(io.join(outputs_path, "report.html"), report.get_final_report().encode())


def _is_system(e: BaseException) -> bool:
    """The worker's own failure or the control plane's (also when a body let it through, chained): a system error."""
    from flyte.remote.controller import ControlPlaneError

    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, SystemFailure | ControlPlaneError):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    """Console script ``flyte-core-worker``. Exit 0 once outputs.pb or error.pb is written."""
    import asyncio
    import logging

    logging.basicConfig(level=os.environ.get("FLYTE_WORKER_LOG_LEVEL", "WARNING"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = sys.argv[1:] if argv is None else argv
    try:
        a = parse_args(args, os.environ)
    except UsageError as e:
        print(f"flyte-core-worker: {e}", file=sys.stderr)
        return 2
    sys.path.insert(0, os.path.abspath(a.dest or "."))
    from flyte.remote import io

    try:
        asyncio.run(run_action(a))
        return 0
    except BaseException as e:  # every failure, also a body's SystemExit, becomes error.pb
        system = _is_system(e)
        doc = io.error_document(e, system=system)
        print(doc.error.message, file=sys.stderr)
        try:
            asyncio.run(io.write_bytes(io.join(a.outputs_path, io.ERROR), doc.SerializeToString()))
        except Exception as w:
            print(f"flyte-core-worker: could not write error.pb to {a.outputs_path}: {w}", file=sys.stderr)
            return 1
        return 0


if __name__ == "__main__":
    sys.exit(main())
