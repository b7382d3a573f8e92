"""Conformance suites that ship with flyte-core (install ``flyte-core[testing]``, which brings pytest).

A plugin of each kind subclasses its suite: ``flyte.testing.storage.StorageConformance``,
``flyte.testing.builders.BuilderConformance``, ``flyte.testing.runtime.RuntimeConformance``.
The real services those suites run against (S3, Azure and GCS emulators, registries, podman,
dockerd) and pytest fixtures that start them are in the separate ``flyte-testing`` distribution.
"""
