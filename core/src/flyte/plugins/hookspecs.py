"""Every hook a flyte plugin can implement, in one place.

A plugin is a module (or object) whose functions are marked with
:data:`flyte.plugins.hookimpl` and whose distribution names it in the
``flyte.plugins`` entry-point group. Each ``flyte_<kind>`` hook returns the
classes (or, for type transformers, the objects) the plugin contributes; every
one of them carries a unique ``name``. Hooks are called lazily: the first time
something of that kind is looked up, never at ``import flyte``.

Keep hook modules thin: import heavy dependencies inside the hook body so that
``flyte --help`` does not pay for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from flyte.admin import AdminTransport
    from flyte.images.builder import ImageBuilder
    from flyte.runtime import Runtime
    from flyte.storage.backend import StorageBackend
    from flyte.types import TypeTransformer

hookspec = pluggy.HookspecMarker("flyte")


# -------------------------------------------------------------------------
# Storage
# -------------------------------------------------------------------------


@hookspec
def flyte_storage_backends() -> Sequence[type[StorageBackend]]:
    """Return storage backend classes.

    Called the first time a URL protocol is resolved (``s3://``, ``gs://``...).
    Each class names the protocols it serves in ``protocols``; two plugins that
    claim the same protocol are an error naming both.
    """
    raise NotImplementedError


# -------------------------------------------------------------------------
# Images
# -------------------------------------------------------------------------


@hookspec
def flyte_image_builders() -> Sequence[type[ImageBuilder]]:
    """Return image builder classes.

    Called the first time a builder is looked up by name (``--builder``,
    ``image.builder`` in the config file, ``FLYTE_IMAGE_BUILDER``).
    """
    raise NotImplementedError


# -------------------------------------------------------------------------
# Execution
# -------------------------------------------------------------------------


@hookspec
def flyte_runtimes() -> Sequence[type[Runtime]]:
    """Return runtime classes (``local``, ``sandbox``, ``remote`` ...).

    Called the first time a runtime is looked up, e.g. by ``flyte run
    --runtime NAME`` or ``flyte.with_runcontext(mode=NAME)``.
    """
    raise NotImplementedError


# -------------------------------------------------------------------------
# Control plane
# -------------------------------------------------------------------------


@hookspec
def flyte_admin_transports() -> Sequence[type[AdminTransport]]:
    """Return admin transport classes that connect to a Flyte control plane.

    Called the first time a transport is looked up by name (``admin.transport``, default ``grpc``).
    ``await Transport().connect(settings)`` returns a :class:`flyte.admin.AdminClient`.
    """
    raise NotImplementedError


# -------------------------------------------------------------------------
# Types
# -------------------------------------------------------------------------


@hookspec
def flyte_type_transformers() -> Sequence[TypeTransformer]:
    """Return type transformer *instances* for additional Python types.

    Called once, the first time the type engine meets a type that none of the
    built-in transformers handle.
    """
    raise NotImplementedError


# -------------------------------------------------------------------------
# CLI
# -------------------------------------------------------------------------


@hookspec
def flyte_cli_commands(cli: click.Group) -> None:
    """Add commands to the ``flyte`` command group.

    Called when the CLI starts, with the root :class:`click.Group`. Add
    commands with ``cli.add_command(...)``; a name already taken is an error
    naming both plugins. A command in a module of its own is best added as a
    ``flyte.cli.lazy.LazyCommand`` so ``flyte --help`` does not import it.
    """
    raise NotImplementedError


HOOK_KINDS: dict[str, str] = {
    "flyte_storage_backends": "storage backend",
    "flyte_image_builders": "image builder",
    "flyte_runtimes": "runtime",
    "flyte_admin_transports": "admin transport",
    "flyte_type_transformers": "type transformer",
}
