"""``flyte devbox serve|start|stop|status``. Only click is imported here: the server loads on use."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

CONFIG_MARKER = "# written by `flyte devbox start`"


def default_data_dir() -> Path:
    home = os.environ.get("FLYTE_HOME") or str(Path.home() / ".flyte")
    return Path(home).expanduser() / "devbox"


def _data_dir(given: Path | None) -> Path:
    """The devbox data folder: --data if given, else the default, as an absolute path."""
    return (given or default_data_dir()).expanduser().resolve()


def _common(f):  # type: ignore[no-untyped-def]
    f = click.option(
        "--image-builder",
        default=None,
        metavar="NAME",
        help="Build images clients ask for (flyte build --builder remote, flyte run --runtime remote) with this "
        "local builder plugin (docker, podman) on this host, and push them with this host's registry credentials.",
    )(f)
    f = click.option(
        "--engine-url",
        default=None,
        help="The container engine's API for --executor docker|podman (unix:///... or tcp://...; default: "
        "DOCKER_HOST or /var/run/docker.sock for docker; CONTAINER_HOST, podman's socket, or a `podman system "
        "service` the devbox starts, for podman).",
    )(f)
    f = click.option(
        "--executor",
        type=click.Choice(["subprocess", "docker", "podman"]),
        default="subprocess",
        show_default=True,
        help="How actions run: subprocesses of this machine, or containers of each task's image.",
    )(f)
    f = click.option(
        "--worker-path",
        "worker_paths",
        multiple=True,
        type=click.Path(file_okay=False),
        help="Folder put first on the actions' PATH (where an SDK's worker entry point lives). Repeatable.",
    )(f)
    f = click.option(
        "--storage", default=None, help="Keep data in this bucket (s3://, gs://, abfs://) instead of the data folder."
    )(f)
    f = click.option(
        "--data",
        "data_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Folder for the state database, data and logs (default ~/.flyte/devbox).",
    )(f)
    f = click.option(
        "--concurrency",
        default=8,
        show_default=True,
        type=click.IntRange(1, 1024),
        help="How many actions run at once.",
    )(f)
    return f


@click.group("devbox")
def devbox() -> None:
    """A Flyte 2 control plane on this machine (gRPC and Connect on one port)."""


@devbox.command("serve")
@click.option("--port", default=8090, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--auth", is_flag=True, help="Require bearer tokens; prints a client id and secret for client credentials."
)
@_common
def serve(
    port: int,
    host: str,
    auth: bool,
    data_dir: Path | None,
    storage: str | None,
    worker_paths: tuple[str, ...],
    concurrency: int,
    executor: str,
    engine_url: str | None,
    image_builder: str | None,
) -> None:
    """Run the devbox in the foreground until Ctrl-C."""
    from flyte_devbox.containers import EngineUnavailable
    from flyte_devbox.core import Settings
    from flyte_devbox.server import run

    if image_builder:
        _check_image_builder(image_builder)
    data = _data_dir(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        data_dir=data,
        host=host,
        port=port,
        storage=storage,
        worker_paths=list(worker_paths),
        concurrency=concurrency,
        auth=auth,
        executor=executor,
        engine_url=engine_url,
        image_builder=image_builder,
    )
    try:
        run(settings)
    except (OSError, EngineUnavailable) as e:
        raise click.ClickException(str(e)) from e
    except Exception as e:
        if storage and type(e).__module__.startswith("flyte"):
            raise click.ClickException(f"--storage {storage}: {e}") from e
        raise


def _check_image_builder(name: str) -> None:
    """An unknown builder is an error; one whose engine is not answering now is a warning (it may start later)."""
    from flyte.errors import FlyteError

    from flyte_devbox.images import check_builder

    if name.strip().lower() == "remote":
        raise click.ClickException("--image-builder remote would send each build back to a control plane; the devbox "
                                   "builds with a local builder plugin on its host: docker or podman")
    try:
        why = check_builder(name)
    except FlyteError as e:
        raise click.ClickException(f"--image-builder {name}: {e}") from None
    if why:
        click.echo(f"warning: --image-builder {name} cannot build on this host now ({why}); "
                   "image builds fail until it can", err=True)


def _state(data: Path) -> dict[str, Any] | None:
    try:
        return json.loads((data / "devbox.json").read_text())
    except (OSError, ValueError):
        return None


def _alive(url: str) -> bool:
    import urllib.request  # not at import: `flyte --help` loads this module

    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _write_config(endpoint: str, data: Path, config: Path | None) -> str:
    text = (
        f"{CONFIG_MARKER}\nadmin:\n  endpoint: dns:///{endpoint}\n  insecure: true\n"
        "task:\n  project: flytesnacks\n  domain: development\n"
    )
    # ~/.flyte/config.yaml is where the flyte CLIs (ours and the official) look, whatever FLYTE_HOME says.
    target = config or (Path.home() / ".flyte" / "config.yaml")
    # A user's config.yml next to it counts too: a config.yaml written beside it would be read first.
    siblings = [target]
    if config is None:
        siblings.append(target.with_suffix(".yml"))
    mine = next((p for p in siblings if p.is_file() and CONFIG_MARKER not in p.read_text(errors="replace")), None)
    if mine is not None:
        own = data / "config.yaml"
        own.write_text(text)
        return (
            f"{mine} exists and was not written by the devbox, so it was left alone.\n"
            f"The devbox's config is in {own}: use it with `flyte -c {own} ...` or `export FLYTE_CONFIG={own}`."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    first = _config_read_first()
    if first is not None and first.resolve() != target.resolve():
        return (
            f"Wrote {target}, but the flyte CLI reads {first} before it (from this folder), so it does not talk "
            f"to the devbox yet: use `flyte -c {target} ...` or `export FLYTE_CONFIG={target}`."
        )
    return f"Wrote {target}: the flyte CLI now talks to the devbox."


def _config_read_first() -> Path | None:
    """The config file the flyte CLI would read from the current folder (None: none, or it cannot tell)."""
    from flyte.config import find_config_file
    from flyte.errors import ConfigError

    try:
        return find_config_file()
    except ConfigError:
        return None


@devbox.command("start")
@click.option("--port", default=8090, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the CLI config (default ~/.flyte/config.yaml; never replaces one you wrote).",
)
@_common
def start(
    port: int,
    config_path: Path | None,
    data_dir: Path | None,
    storage: str | None,
    worker_paths: tuple[str, ...],
    concurrency: int,
    executor: str,
    engine_url: str | None,
    image_builder: str | None,
) -> None:
    """Start the devbox in the background and point the CLI at it."""
    data = _data_dir(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    st = _state(data)
    if st and _alive(st["url"]):
        click.echo(f"The devbox is already running on {st['url']} (pid {st['pid']}).")
        return
    if image_builder:  # here, not only in the background process's log: an unknown name or no engine is said now
        _check_image_builder(image_builder)
    cmd = [
        sys.executable,
        "-m",
        "flyte_devbox",
        "serve",
        "--port",
        str(port),
        "--data",
        str(data),
        "--concurrency",
        str(concurrency),
    ]
    for p in worker_paths:
        cmd += ["--worker-path", str(Path(p).resolve())]
    if storage:
        cmd += ["--storage", storage]
    cmd += ["--executor", executor]
    if engine_url:
        cmd += ["--engine-url", engine_url]
    if image_builder:
        cmd += ["--image-builder", image_builder]
    import subprocess

    log = (data / "devbox.log").open("ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        st = _state(data)
        if st and st.get("pid") == proc.pid and _alive(st["url"]):
            break
        if proc.poll() is not None:
            lines = (data / "devbox.log").read_text(errors="replace").strip().splitlines()
            why = f": {lines[-1].removeprefix('Error: ')}" if lines else ""
            log_file = data / "devbox.log"
            raise click.ClickException(f"the devbox exited with code {proc.returncode}{why} (log: {log_file})")
        time.sleep(0.05)
    else:
        proc.terminate()
        raise click.ClickException(f"the devbox did not become ready in 15 s; see {data / 'devbox.log'}")
    click.echo(f"flyte-devbox running on {st['url']} (pid {proc.pid}, data in {data})")
    click.echo(_write_config(st["endpoint"], data, config_path))


@devbox.command("stop")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def stop(data_dir: Path | None) -> None:
    """Stop a devbox started with `flyte devbox start`."""
    data = _data_dir(data_dir)
    st = _state(data)
    if not st:
        click.echo(f"No devbox is running with data in {data}.")
        return
    pid = int(st["pid"])
    if not _is_devbox(pid):
        # devbox.json outlived its process (SIGKILL, reboot): the pid may be someone else's now.
        (data / "devbox.json").unlink(missing_ok=True)
        click.echo("The devbox was not running (stale state removed).")
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        (data / "devbox.json").unlink(missing_ok=True)
        click.echo("The devbox was not running (stale state removed).")
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    click.echo(f"Stopped the devbox (pid {pid}).")
    cfg = Path.home() / ".flyte" / "config.yaml"
    try:
        text = cfg.read_text(errors="replace")
    except OSError:
        return
    if CONFIG_MARKER in text and f"dns:///{st.get('endpoint')}\n" in text:
        click.echo(
            f"{cfg} still points the flyte CLI at it: `flyte devbox start` brings it back; until then "
            "control-plane commands fail and `flyte run --local` runs tasks on this machine."
        )


def _is_devbox(pid: int) -> bool:
    """Is ``pid`` a devbox server (``python -m flyte_devbox serve`` or ``flyte devbox serve``)?"""
    proc = Path(f"/proc/{pid}/cmdline")
    if Path("/proc/self/cmdline").exists():
        try:
            args = proc.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            return False
    else:  # no /proc (macOS): ask ps
        import subprocess

        out = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True)
        args = out.stdout.split()
    text = " ".join(args)
    return "serve" in args and ("flyte_devbox" in text or "devbox" in args)


@devbox.command("status")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def status(data_dir: Path | None) -> None:
    """Is the devbox running, and where."""
    data = _data_dir(data_dir)
    st = _state(data)
    if st and _alive(st["url"]):
        click.echo(f"running on {st['url']} (pid {st['pid']}, data in {data})")
    else:
        click.echo(f"not running (data in {data})")
        sys.exit(1)
