"""flyte-core: author Flyte 2 tasks in plain Python, run them locally or on a cluster."""
__version__ = "0.1.0"
