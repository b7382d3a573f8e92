"""flyte-azure: ``abfs://`` / ``abfss://`` (and ``az://``) storage for flyte-core through adlfs."""

__version__ = "0.1.0"
