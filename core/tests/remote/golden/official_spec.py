"""Run with the official SDK 2.12.1's Python: the TaskSpecs of spec_program.py as base64, one JSON object."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import spec_program  # noqa: E402
from flyte._internal.runtime.task_serde import translate_task_to_wire  # noqa: E402
from flyte.models import CodeBundle, SerializationContext  # noqa: E402

BUNDLE = sys.argv[1]
ctx = SerializationContext(
    version="v1", project="p", domain="d", org="o",
    code_bundle=CodeBundle(computed_version="v1", tgz=BUNDLE, destination="."), root_dir=Path(__file__).parent,
)
out = {}
for env in (spec_program.env, spec_program.gpu_env, spec_program.secret_env):
    for task in env.tasks.values():
        spec = translate_task_to_wire(task, ctx)
        out[task.name] = base64.b64encode(spec.SerializeToString(deterministic=True)).decode()
print(json.dumps(out))
