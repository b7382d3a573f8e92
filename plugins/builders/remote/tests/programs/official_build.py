"""Run with the official SDK (flyte==2.12.1): its remote builder against a flyte-devbox.

    python official_build.py ENDPOINT BASE_IMAGE REGISTRY MARKER
"""

import sys

import flyte

endpoint, base, registry, marker = sys.argv[1:5]
flyte.init(endpoint=f"dns:///{endpoint}", insecure=True, project="flytesnacks", domain="development",
           image_builder="remote")
image = (flyte.Image.from_base(base).clone(registry=registry, name="official", extendable=True)
         .with_commands([f"echo {marker} > /official.txt"]))
print("URI", flyte.build(image).uri, flush=True)
