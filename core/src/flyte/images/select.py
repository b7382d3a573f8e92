"""Which builder to use: ``--builder``, else ``FLYTE_IMAGE_BUILDER``, else ``image.builder`` in the
config file, else the first available of ``docker``, ``podman``.

The official SDK's names work too: ``local`` (its local Docker builder) means the first available
of ``docker``, ``podman``; ``local-podman`` means ``podman``."""

from __future__ import annotations

from flyte.images.builder import ImageBuilder
from flyte.images.config import load_image_config
from flyte.images.errors import BuilderUnavailableError
from flyte.plugins.manager import get_plugin_manager

DEFAULT_ORDER = ("docker", "podman")
ALIASES: dict[str, str | None] = {"local": None, "local-docker": "docker", "local-podman": "podman"}
"""Official SDK builder names and what they mean here (``None``: the first usable of :data:`DEFAULT_ORDER`)."""


def builder_name(explicit: str | None = None) -> str | None:
    if explicit:
        return explicit
    return load_image_config().builder


def get_builder(name: str | None = None, *, check: bool = True, **options: object) -> ImageBuilder:
    """An instance of the named (or configured) builder, checked to be usable here.

    Raises :class:`~flyte.errors.UnknownPluginError` for a name nobody registered (naming what
    to install) and :class:`BuilderUnavailableError` when it cannot run here, saying why.
    """
    registry = get_plugin_manager().builders
    chosen = builder_name(name)
    if chosen is not None and chosen.strip().lower() in ALIASES and registry.find(chosen) is None:
        chosen = ALIASES[chosen.strip().lower()]
    if chosen is None:
        reasons = []
        for candidate in DEFAULT_ORDER:
            cls = registry.find(candidate)
            if cls is None:
                reasons.append(f"{candidate}: not installed (pip install flyte-{candidate})")
                continue
            inst: ImageBuilder = cls(**options)
            why = inst.check_available()
            if why is None:
                return inst
            reasons.append(f"{candidate}: {why}")
        raise BuilderUnavailableError(
            "no image builder is usable here; choose one with --builder, FLYTE_IMAGE_BUILDER or image.builder. "
            + "; ".join(reasons)
        )
    builder: ImageBuilder = registry.get(chosen)(**options)
    if check:
        why = builder.check_available()
        if why is not None:
            raise BuilderUnavailableError(f"image builder '{chosen}' cannot run here: {why}")
    return builder
