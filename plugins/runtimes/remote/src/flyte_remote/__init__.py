"""flyte-remote: the ``remote`` runtime. Runs tasks on a Flyte 2 control plane (a cluster or flyte-devbox)."""

__version__ = "0.1.0"
