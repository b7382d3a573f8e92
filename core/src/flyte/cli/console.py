"""``flyte console``: the web console over the local run records."""

from __future__ import annotations

import click


@click.command("console", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--port", type=click.IntRange(0, 65535), default=8088, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but a loopback address shows your runs to your network.")
@click.option("--run-base-dir", default=None, help="Where local run records are kept (default: the local runs dir).")
def console(port: int, host: str, run_base_dir: str | None) -> None:
    """Serve the web console for local runs; prints its URL, stops on Ctrl-C."""
    import signal
    import threading
    from pathlib import Path

    from flyte.console.api import ConsoleApp, is_loopback_host
    from flyte.console.local import LocalRunStore
    from flyte.console.server import serving

    store = LocalRunStore(Path(run_base_dir) if run_base_dir else None)
    loopback = is_loopback_host(f"[{host}]" if ":" in host else host)
    if not loopback:
        click.echo(click.style("Warning:", fg="yellow", bold=True)
                   + f" listening on {host}: anyone who can reach it can read your runs' inputs, outputs and errors.",
                   err=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    try:
        cm = serving(ConsoleApp(store, any_host=not loopback), host, port, announce_in=store.base)
        server = cm.__enter__()
    except OSError as e:
        raise click.ClickException(f"Cannot listen on {host}:{port}: {e.strerror or e}; pick another --port "
                                   "(0 picks a free one)") from None
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        click.echo(f"Flyte console for {store.base}: {server.url}  (Ctrl-C stops it)", err=False)
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        cm.__exit__(None, None, None)
    click.echo("Console stopped.", err=True)


__all__ = ["console"]
