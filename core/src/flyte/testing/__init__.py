"""Test helpers that ship with flyte-core.

Conformance suites a plugin of each kind subclasses: ``flyte.testing.storage.StorageConformance``,
``flyte.testing.builders.BuilderConformance``, ``flyte.testing.runtime.RuntimeConformance``; and
launchers for the real services those suites run against (``flyte.testing.services``: moto,
Azurite, a GCS emulator; ``flyte.testing.engines``: a registry, podman, dockerd).
"""
