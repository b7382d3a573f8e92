"""Golden test: for the same program (golden/spec_program.py) our TaskSpecs and the official SDK 2.12.1's agree on
interface, resources, retries, timeouts, cache and pod template.

The official side runs in its own virtualenv (FLYTE_OFFICIAL_PYTHON; `python3 dev.py setup` makes it, with the
kubernetes package it needs for pod templates) through its own serializer (translate_task_to_wire). Fields that
differ by design are left out and named here: the worker args (``a0`` and its resolver vs ``flyte-core-worker``),
the runtime version, and the official-only ``debuggable`` flag.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flyteidl2.task import task_definition_pb2
from google.protobuf.json_format import MessageToDict

pytest.importorskip("kubernetes")

GOLDEN = Path(__file__).parent / "golden"
OFFICIAL = os.environ.get("FLYTE_OFFICIAL_PYTHON", "")
BUNDLE = "s3://bucket/golden/code.tar.gz"

pytestmark = pytest.mark.skipif(not OFFICIAL, reason="FLYTE_OFFICIAL_PYTHON is not set (python3 dev.py setup)")


@pytest.fixture(scope="module")
def official() -> dict[str, task_definition_pb2.TaskSpec]:
    p = subprocess.run([OFFICIAL, str(GOLDEN / "official_spec.py"), BUNDLE], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "PYTHONPATH": ""}, cwd=GOLDEN)
    assert p.returncode == 0, p.stderr[-3000:]
    out = {}
    for name, b64 in json.loads(p.stdout).items():
        spec = task_definition_pb2.TaskSpec()
        spec.ParseFromString(base64.b64decode(b64))
        out[name] = spec
    return out


@pytest.fixture(scope="module")
def ours() -> dict[str, task_definition_pb2.TaskSpec]:
    from flyte.remote.spec import SpecContext, task_spec

    sys.path.insert(0, str(GOLDEN))
    try:
        program = importlib.import_module("spec_program")
    finally:
        sys.path.remove(str(GOLDEN))
    ctx = SpecContext(project="p", domain="d", org="o", version="v1", bundle_uri=BUNDLE, module="spec_program")
    envs = (program.env, program.gpu_env, program.secret_env)
    return {t.name: task_spec(t, ctx) for env in envs for t in env.tasks.values()}


def _prune(value: Any) -> Any:
    """Drop empty lists/maps/None (the official SDK writes ``env: []``, ``limits: {}``; Kubernetes reads both alike)."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def _pod(spec: task_definition_pb2.TaskSpec) -> dict[str, Any] | None:
    tt = spec.task_template
    if tt.WhichOneof("target") != "k8s_pod":
        return None
    pod = _prune(MessageToDict(tt.k8s_pod.pod_spec))
    for c in pod.get("containers", []):
        if c["name"] == tt.config["primary_container_name"]:
            assert c.pop("args")[0] in ("a0", "flyte-core-worker")
    return {"spec": pod, "labels": dict(tt.k8s_pod.metadata.labels),
            "annotations": dict(tt.k8s_pod.metadata.annotations), "config": dict(tt.config)}


def _resources(spec: task_definition_pb2.TaskSpec) -> Any:
    tt = spec.task_template
    if tt.WhichOneof("target") == "container":
        return MessageToDict(tt.container.resources), MessageToDict(tt.extended_resources)
    primary = tt.config["primary_container_name"]
    c = next(c for c in MessageToDict(tt.k8s_pod.pod_spec)["containers"] if c["name"] == primary)
    return _prune(c.get("resources", {})), MessageToDict(tt.extended_resources)


def _metadata(spec: task_definition_pb2.TaskSpec, what: str) -> Any:
    md = spec.task_template.metadata
    if what == "retries":
        return md.retries.retries, MessageToDict(md.retries.backoff) if md.retries.HasField("backoff") else None
    if what == "timeouts":
        return MessageToDict(md.timeout) if md.HasField("timeout") else None, MessageToDict(md.timeouts)
    if what == "cache":
        return md.discoverable, md.discovery_version, md.cache_serializable, list(md.cache_ignore_input_vars)
    if what == "secrets_env_report":
        tt = spec.task_template
        env = list(tt.container.env) if tt.WhichOneof("target") == "container" else None
        return MessageToDict(tt.security_context), env, md.generates_deck.value, md.interruptible
    raise AssertionError(what)


def test_same_tasks(official: dict[str, Any], ours: dict[str, Any]) -> None:
    assert sorted(official) == sorted(ours)


@pytest.mark.parametrize(
    "field", ["interface", "resources", "retries", "timeouts", "cache", "pod_template", "ids", "secrets_env_report"]
)
def test_field_agrees_for_every_task(field: str, official: dict[str, Any], ours: dict[str, Any]) -> None:
    for name in sorted(official):
        off, our = official[name], ours[name]
        if field == "interface":
            a, b = off.task_template.interface, our.task_template.interface
        elif field == "resources":
            a, b = _resources(off), _resources(our)
        elif field == "pod_template":
            a, b = _pod(off), _pod(our)
        elif field == "ids":
            a = (off.task_template.id, off.short_name, off.environment.name, off.task_template.type,
                 off.task_template.metadata.code_bundle_uri, off.task_template.WhichOneof("target"))
            b = (our.task_template.id, our.short_name, our.environment.name, our.task_template.type,
                 our.task_template.metadata.code_bundle_uri, our.task_template.WhichOneof("target"))
        else:
            a, b = _metadata(off, field), _metadata(our, field)
        assert a == b, f"{name}: {field} differs\nofficial: {a}\nours:     {b}"
