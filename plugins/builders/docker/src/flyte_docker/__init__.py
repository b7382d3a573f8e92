"""flyte-docker: build flyte images through any Docker Engine API."""
