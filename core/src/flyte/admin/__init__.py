"""The admin transport interface: how the SDK reaches a Flyte control plane."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar


class AdminTransport(abc.ABC):
    """Connects to a control-plane endpoint and returns a client for the flyteidl2 services.

    The client exposes one stub per service (``run``, ``task``, ``dataproxy``,
    ``project``, ``secret``, ``logs``, ``queue``, ``state``) and retries
    transient errors within deadlines.

    Example::

        class MyTransport(AdminTransport):
            name = "mine"

            def connect(self, endpoint, *, insecure=False, options=None):
                ...
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def connect(self, endpoint: str, *, insecure: bool = False, options: Mapping[str, Any] | None = None) -> Any:
        """Return a client bound to ``endpoint``."""
