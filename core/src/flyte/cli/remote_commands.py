"""``flyte create config|project|secret``, ``flyte delete secret``, ``flyte abort run``, ``flyte whoami``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from flyte.cli.remote import TERMINAL_PHASES, call, output_option, scope, settings, to_json
from flyte.remote.names import phase_name

_CTX = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=_CTX)
def create() -> None:
    """Create a config file, or a project or secret on the control plane."""


@click.group(context_settings=_CTX)
def delete() -> None:
    """Delete a secret on the control plane."""


@click.group(context_settings=_CTX)
def abort() -> None:
    """Abort a run on the control plane."""


@create.command("config")
@click.option("--endpoint", required=True, help="Control plane, host:port (dns:///host:port and http(s):// accepted).")
@click.option("--insecure", is_flag=True, help="Plaintext (no TLS), e.g. for a devbox on localhost.")
@click.option("--org", default=None, help="Organization (task.org).")
@click.option("--project", "-p", default=None, help="Default project (task.project).")
@click.option("--domain", "-d", default=None, help="Default domain (task.domain).")
@click.option("--builder", "image_builder", default=None, help="Image builder (image.builder).")
@click.option("--registry", default=None, help="Image registry (image.registry).")
@click.option("--auth-type", default=None, help="ClientSecret, Pkce, DeviceFlow or ExternalCommand (admin.authType).")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), default=".flyte/config.yaml",
              show_default=True, help="Where to write the file.")
@click.option("--force", is_flag=True, help="Replace an existing file.")
def create_config(endpoint: str, insecure: bool, org: str | None, project: str | None, domain: str | None,
                  image_builder: str | None, registry: str | None, auth_type: str | None, out: str,
                  force: bool) -> None:
    """Write a config file that points the CLI at a control plane.

    An existing file is never replaced silently: pass --force (or confirm at the prompt in a terminal).
    """
    import yaml

    from flyte.admin.settings import canonical_auth_type, parse_endpoint
    from flyte.errors import ConfigError

    try:
        # An http:// endpoint is plaintext even without --insecure: keep that in the file.
        target, plaintext = parse_endpoint(endpoint, insecure or None)
        auth = canonical_auth_type(auth_type)
    except ConfigError as e:
        raise click.BadParameter(str(e)) from None
    path = Path(out).expanduser()
    if path.exists() and not (force or (sys.stdin.isatty() and click.confirm(f"{path} exists. Replace it?"))):
        raise click.ClickException(f"{path} already exists; pass --force to replace it (nothing was written).")
    admin: dict[str, Any] = {"endpoint": f"dns:///{target}"}
    if plaintext:
        admin["insecure"] = True
    if auth:
        admin["authType"] = auth
    doc: dict[str, Any] = {"admin": admin}
    task = {k: v for k, v in (("org", org), ("project", project), ("domain", domain)) if v}
    if task:
        doc["task"] = task
    image = {k: v for k, v in (("builder", image_builder), ("registry", registry)) if v}
    if image:
        doc["image"] = image
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    tmp.replace(path)
    click.echo(f"Wrote {path}")


@create.command("project")
@click.option("--id", "project_id", required=True, help="Project id (immutable).")
@click.option("--name", default=None, help="Display name (default: the id).")
@click.option("--description", default="", help="Description.")
@click.option("--domain", "domains", multiple=True, help="Domains (repeat; default: the server's).")
def create_project(project_id: str, name: str | None, description: str, domains: tuple[str, ...]) -> None:
    """Create a project on the control plane."""
    from flyteidl2.project import project_service_pb2 as pb

    org = settings().org or ""
    project = pb.Project(id=project_id, name=name or project_id, description=description, org=org)
    for d in domains:
        project.domains.add(id=d, name=d)

    async def send(client: Any) -> Any:
        return await client.project.CreateProject(pb.CreateProjectRequest(project=project))

    call(send)
    click.echo(f"Created project {project_id}")


def _secret_id(name: str, project: str | None, domain: str | None) -> Any:
    from flyteidl2.secret import definition_pb2 as sd

    return sd.SecretIdentifier(name=name, organization=settings().org or "", project=project or "",
                               domain=domain or "")


@create.command("secret")
@click.argument("name")
@click.option("--value", default=None, help="The value (default: prompt without echo, or stdin when piped).")
@click.option("--from-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Read the value (bytes) from a file.")
@click.option("--project", "-p", default=None, help="Scope to a project (default: the whole organization).")
@click.option("--domain", "-d", default=None, help="Scope to a domain.")
def create_secret(name: str, value: str | None, from_file: str | None, project: str | None,
                  domain: str | None) -> None:
    """Create a secret. The value is never printed or logged."""
    from flyteidl2.secret import definition_pb2 as sd
    from flyteidl2.secret import payload_pb2 as sp

    if value is not None and from_file:
        raise click.UsageError("Pass --value or --from-file, not both.")
    if from_file:
        spec = sd.SecretSpec(binary_value=Path(from_file).read_bytes())
    else:
        if value is None:
            value = click.prompt("Secret value", hide_input=True) if sys.stdin.isatty() else sys.stdin.read()
            value = value.rstrip("\n")
        spec = sd.SecretSpec(string_value=value)
    req = sp.CreateSecretRequest(id=_secret_id(name, project, domain), secret_spec=spec)

    call(lambda client: client.secret.CreateSecret(req))
    click.echo(f"Created secret {name}")


@delete.command("secret")
@click.argument("name")
@click.option("--project", "-p", default=None, help="The project the secret is scoped to.")
@click.option("--domain", "-d", default=None, help="The domain the secret is scoped to.")
def delete_secret(name: str, project: str | None, domain: str | None) -> None:
    """Delete a secret."""
    from flyteidl2.secret import payload_pb2 as sp

    req = sp.DeleteSecretRequest(id=_secret_id(name, project, domain))

    call(lambda client: client.secret.DeleteSecret(req))
    click.echo(f"Deleted secret {name}")


@abort.command("run")
@click.argument("name")
@click.option("--reason", default="Aborted from the flyte CLI", show_default=True)
@click.option("--project", "-p", default=None, help="Project (default: --project / task.project).")
@click.option("--domain", "-d", default=None, help="Domain (default: --domain / task.domain).")
def abort_run(name: str, reason: str, project: str | None, domain: str | None) -> None:
    """Abort a run and all its actions."""
    from flyteidl2.common import identifier_pb2 as ci
    from flyteidl2.workflow import run_service_pb2 as rs

    org, p, d = scope(project, domain)
    req = rs.AbortRunRequest(run_id=ci.RunIdentifier(org=org, project=p, domain=d, name=name), reason=reason)

    async def send(client: Any) -> str | None:
        details = await client.run.GetRunDetails(rs.GetRunDetailsRequest(run_id=req.run_id))
        phase = phase_name(details.details.action.status.phase)
        if phase in TERMINAL_PHASES:
            return phase  # nothing to abort: say so instead of "abort requested"
        await client.run.AbortRun(req)
        return None

    ended = call(send)
    if ended:
        click.echo(f"Run {name} already ended ({ended}); nothing to abort.")
    else:
        click.echo(f"Abort requested for run {name}")


@click.command(context_settings=_CTX)
@output_option
def whoami(output: str) -> None:
    """Show who the control plane thinks you are."""
    from flyteidl2.auth import identity_pb2

    s = settings()

    async def ask(client: Any) -> Any:
        return await client.identity.UserInfo(identity_pb2.UserInfoRequest())

    info = call(ask)
    if output == "json":
        click.echo(to_json(info))
        return
    click.echo(f"endpoint: {s.target}")
    for label, value in (("subject", info.subject), ("name", info.name), ("username", info.preferred_username),
                         ("email", info.email)):
        if value:
            click.echo(f"{label}: {value}")
