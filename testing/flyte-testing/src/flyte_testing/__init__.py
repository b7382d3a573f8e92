"""Real services for the tests of flyte plugins, and a pytest plugin with fixtures that start them.

- :mod:`flyte_testing.services`: storage emulators on loopback (moto, Azurite, a GCS emulator) and a
  fault-injecting TCP proxy.
- :mod:`flyte_testing.engines`: a registry, podman and dockerd in private temp folders, and the stacks
  :class:`flyte.testing.builders.BuilderConformance` runs against.
- :mod:`flyte_testing.http`: a loopback HTTP server that stops at once.
- :mod:`flyte_testing.plugin`: the fixtures (``moto``, ``moto_auth``, ``azurite``, ``gcs_emulator``,
  ``podman_stack``, ``dockerd_stack``), loaded by pytest through the ``pytest11`` entry point.

The conformance suites themselves ship with flyte-core, in :mod:`flyte.testing`.
"""
