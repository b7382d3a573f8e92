"""flyte-podman: build flyte images through the Podman API service."""
