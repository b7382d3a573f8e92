"""Test helpers that ship with flyte-core: conformance suites plugins subclass, and launchers
for the real services those suites run against (``flyte.testing.storage``,
``flyte.testing.services``)."""
