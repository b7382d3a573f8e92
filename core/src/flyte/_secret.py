"""Secrets a task needs, and how they are resolved when it runs locally.

Locally a secret is checked when the task reads it, not before: a task whose environment declares
a secret nobody provided still runs; reading the secret's variable (``os.environ["API_TOKEN"]``)
raises :class:`SecretNotFoundError` (a ``KeyError``) naming the secret and how to provide it, and
``os.getenv("API_TOKEN")`` / ``os.environ.get`` return the default, as the official SDK's local
mode (which sets nothing) does.
"""

from __future__ import annotations

import os
import pathlib
import re
from dataclasses import dataclass

_ENV_SAFE = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class Secret:
    """A secret made available to a task, as an environment variable or a file.

    Example::

        env = flyte.TaskEnvironment("train", secrets=[flyte.Secret(key="openai", as_env_var="OPENAI_API_KEY")])

    Locally the value comes from the environment variable named by ``as_env_var``
    (or ``FLYTE_SECRET_<GROUP>_<KEY>`` / ``<KEY>``), or from a file under
    ``$FLYTE_SECRETS_DIR/<group>/<key>``.
    """

    key: str
    group: str | None = None
    mount: pathlib.Path | None = None
    as_env_var: str | None = None

    def __post_init__(self) -> None:
        if not self.key or not isinstance(self.key, str):
            raise ValueError(f"Secret key must be a non-empty string, got {self.key!r}")
        if self.as_env_var is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.as_env_var):
            raise ValueError(f"Secret {self.key!r}: as_env_var {self.as_env_var!r} is not a valid variable name")

    @property
    def env_var(self) -> str:
        if self.as_env_var:
            return self.as_env_var
        parts = [p for p in (self.group, self.key) if p]
        return _ENV_SAFE.sub("_", "_".join(parts)).upper()

    def __repr__(self) -> str:  # the key is a name, not the value; still keep reprs minimal
        return f"Secret(key={self.key!r}, group={self.group!r}, as_env_var={self.as_env_var!r})"


SecretRequest = str | Secret | list[str | Secret]


def normalize_secrets(req: SecretRequest | None) -> tuple[Secret, ...]:
    if req is None:
        return ()
    items = req if isinstance(req, list | tuple) else [req]
    out = []
    for s in items:
        if isinstance(s, str):
            out.append(Secret(key=s))
        elif isinstance(s, Secret):
            out.append(s)
        else:
            raise TypeError(f"secrets must be str or flyte.Secret, got {type(s).__name__}")
    return tuple(out)


class SecretNotFoundError(KeyError):
    """A task read a secret that nothing provides locally. A ``KeyError``, as ``os.environ[...]`` raises."""

    def __init__(self, secret: Secret, task: str | None = None) -> None:
        super().__init__(secret.env_var)
        self.secret = secret
        self.task = task

    def __str__(self) -> str:  # KeyError's str() is the repr of its key; this one is for people
        s = self.secret
        where = f" for task '{self.task}'" if self.task else ""
        group = f" (group '{s.group}')" if s.group else ""
        file_hint = "/".join(x for x in (s.group, s.key) if x)
        return (
            f"Secret '{s.key}'{group} was read{where} as {s.env_var} but is not set. Provide it locally as the "
            f"environment variable {s.env_var} (e.g. `export {s.env_var}=...`), or as the file "
            f"$FLYTE_SECRETS_DIR/{file_hint}."
        )


class MissingSecret:
    """Stands, in a task's environment, for a declared secret nothing provides: reading it raises.

    ``error()`` is what ``os.environ[name]`` raises inside the task.
    """

    __slots__ = ("secret", "task")

    def __init__(self, secret: Secret, task: str | None = None) -> None:
        self.secret = secret
        self.task = task

    def error(self) -> SecretNotFoundError:
        return SecretNotFoundError(self.secret, self.task)

    def __repr__(self) -> str:
        return f"<missing secret {self.secret.key!r}>"


def resolve_secret(secret: Secret) -> str | None:
    """The local value of ``secret``, or ``None`` when nothing provides it."""
    candidates = [secret.env_var, f"FLYTE_SECRET_{secret.env_var}", _ENV_SAFE.sub("_", secret.key).upper()]
    for name in candidates:
        v = os.environ.get(name)
        if v is not None:
            return v
    base = os.environ.get("FLYTE_SECRETS_DIR")
    if base:
        p = pathlib.Path(base, *(x for x in (secret.group, secret.key) if x))
        if p.is_file():
            return p.read_text().rstrip("\n")
    return None
