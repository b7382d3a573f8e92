"""flyte-devbox: a Flyte 2 control plane on loopback (gRPC and Connect on one port, SQLite, subprocesses)."""

__version__ = "0.1.0"
