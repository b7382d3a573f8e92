"""flyte-gcs: ``gs://`` storage for flyte-core through gcsfs."""

__version__ = "0.1.0"
