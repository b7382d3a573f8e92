"""Shared plumbing of the control-plane commands: connecting, scoping, errors, rendering.

These commands reach the control plane only through :mod:`flyte.admin` (the transport is a plugin,
``flyte-grpc`` by default), so nothing here imports grpcio.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from flyte.remote.names import phase_name

T = TypeVar("T")

TERMINAL_PHASES = ("SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "RECOVERED")


def settings() -> Any:
    """Admin settings from flags, env and config; a usage error when no endpoint is configured."""
    from flyte.admin import AdminSettings
    from flyte.errors import ConfigError

    try:
        return AdminSettings.from_config()
    except ConfigError as e:
        raise click.UsageError(str(e)) from None


def scope(project: str | None = None, domain: str | None = None, *, required: bool = True) -> tuple[str, str, str]:
    """(org, project, domain) from the command's options, then the global flags and ``task.*`` config."""
    s = settings()
    p, d = project or s.project, domain or s.domain
    if required and not (p and d):
        missing = " and ".join(n for n, v in (("--project", p), ("--domain", d)) if not v)
        raise click.UsageError(
            f"No {missing} given: pass them (flyte --project P --domain D ...), or set task.project and "
            "task.domain in the config file (flyte create config --project P --domain D)."
        )
    return s.org or "", p or "", d or ""


def describe_error(e: BaseException, target: str) -> str:
    """One line for a failed call: the status, the server's message and what to try."""
    code = getattr(e, "code", None)
    name = ""
    if callable(code):  # a grpc error: code() -> StatusCode
        try:
            name = code().name
        except Exception:
            name = ""
    elif isinstance(code, str):
        name = code
    details = e.details() if callable(getattr(e, "details", None)) else str(e)  # type: ignore[attr-defined]
    from flyte.admin import AdminAuthError

    if isinstance(e, AdminAuthError):  # its message already names the setting to check
        return f"{name}: {details}" if name else str(details)
    if name in ("UNKNOWN", "UNIMPLEMENTED") and "http2 header with status" in str(details):
        # Something answered over HTTP/2 but is not a gRPC service (a web server, a proxy's error page).
        return (f"{name}: {details} ({target} answered as a plain web server, not a Flyte control plane; check "
                "--endpoint/admin.endpoint: it is the control plane's gRPC host:port)")
    d = str(details)
    if name == "UNAVAILABLE" and "WRONG_VERSION_NUMBER" in d:
        return (f"{name}: TLS handshake with {target} failed: the server speaks plaintext. Add --insecure "
                "(or admin.insecure: true) if this is a local control plane such as flyte devbox.")
    if name == "UNAVAILABLE" and "Expected SETTINGS frame" in d:
        return (f"{name}: {target} is not an HTTP/2 (gRPC) server; check the port in --endpoint/admin.endpoint "
                "(and --insecure: with TLS the handshake would fail instead).")
    hint = {
        "UNAVAILABLE": f"is the control plane at {target} up? Check --endpoint/admin.endpoint and --insecure "
                       "(TLS is the default).",
        "UNAUTHENTICATED": "the credentials were refused; check admin.authType and the client id/secret, or "
                           "FLYTE_API_KEY.",
        "PERMISSION_DENIED": "your identity may not do this; `flyte whoami` shows who you are.",
        "DEADLINE_EXCEEDED": "the control plane did not answer in time (admin.timeout).",
        "UNIMPLEMENTED": f"the control plane at {target} does not offer this call.",
    }.get(name, "")
    text = f"{name}: {details}" if name else str(details)
    return text + (f" ({hint})" if hint else "")


def call(fn: Callable[[Any], Awaitable[T]]) -> T:
    """Connect, run ``fn(client)``, close; failures become one-line click errors."""
    from flyte.admin import AdminError, connect

    s = settings()

    async def main() -> T:
        client = await connect(s)
        try:
            return await fn(client)
        finally:
            await client.close()

    try:
        return asyncio.run(main())
    except (click.ClickException, KeyboardInterrupt):
        raise
    except AdminError as e:
        raise click.ClickException(describe_error(e, s.target)) from None
    except Exception as e:
        if callable(getattr(e, "code", None)) and callable(getattr(e, "details", None)):
            raise click.ClickException(describe_error(e, s.target)) from None
        raise


def when(ts: Any) -> str:
    if ts is None or not (ts.seconds or ts.nanos):
        return "-"
    return dt.datetime.fromtimestamp(ts.seconds, dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def took(start: Any, end: Any) -> str:
    if not (start.seconds and end.seconds):
        return "-"
    return f"{(end.seconds - start.seconds) + (end.nanos - start.nanos) / 1e9:.2f}s"


def to_json(messages: Any) -> str:
    from google.protobuf.json_format import MessageToDict

    if isinstance(messages, list):
        return json.dumps([MessageToDict(m) for m in messages], indent=2)
    return json.dumps(MessageToDict(messages), indent=2)


def table(what: str, columns: list[str], rows: list[list[Any]], wrap: tuple[str, ...] = ()) -> None:
    """A listing in the CLI's plain-text table style (names never cut; piped output one value per cell)."""
    from flyte.cli.table import Column, render, terminal_width

    if not rows:
        click.echo(f"No {what}.", err=True)  # on stderr: what is piped stays a clean (empty) listing
        return
    cols = [Column(c, wrap=c in wrap, right=c in ("tries", "took", "duration")) for c in columns]
    for line in render(cols, rows, terminal_width(), stack_first=True):
        click.echo(line)


def phase_cell(phase: int) -> tuple[str, dict[str, Any]]:
    from flyte.cli.get import PHASE_COLORS  # one colour scheme for local and remote listings

    name = phase_name(phase)
    return name, {"fg": PHASE_COLORS.get(name, "white")}


def output_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table",
                        show_default=True, help="Table for people, JSON for scripts.")(f)


def scope_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("-d", "--domain", default=None, help="Domain (default: --domain / task.domain).")(f)
    return click.option("-p", "--project", default=None, help="Project (default: --project / task.project).")(f)
