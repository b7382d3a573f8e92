"""flyte-s3: ``s3://`` storage for flyte-core through s3fs (AWS S3 and S3-compatible stores)."""

__version__ = "0.1.0"
