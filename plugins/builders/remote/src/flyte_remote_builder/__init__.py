"""flyte-remote-builder: build flyte images on the control plane (``--builder remote``)."""
