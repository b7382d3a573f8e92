"""The Google Cloud Storage backend.

Credentials, first match wins:

1. ``flyte.init(storage={...})`` / the config file (keys ``project``, ``credentials_file``
   (a service-account JSON), ``token`` (anything gcsfs accepts), ``endpoint``, ``anonymous``;
   also accepted nested under ``gcs`` or as ``gcs.<key>``),
2. ``STORAGE_EMULATOR_HOST`` (an emulator: anonymous access to that endpoint),
3. Application Default Credentials: ``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's login,
   the metadata server.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Literal

from flyte.storage.backend import StorageBackend, section_options
from flyte.storage.errors import SigningNotSupported

if TYPE_CHECKING:
    import fsspec

_KEYS = ("project", "credentials_file", "token", "endpoint", "anonymous")


class GCSBackend(StorageBackend):
    name = "gcs"
    protocols = ("gs", "gcs")

    def settings(self) -> dict[str, Any]:
        s = section_options(self.options, "gcs", _KEYS)
        if not s.get("endpoint") and os.environ.get("STORAGE_EMULATOR_HOST"):
            s["endpoint"] = os.environ["STORAGE_EMULATOR_HOST"]
            s.setdefault("anonymous", True)
        if s.get("endpoint") and not str(s["endpoint"]).startswith("http"):
            s["endpoint"] = "http://" + str(s["endpoint"])
        return {k: v for k, v in s.items() if v not in (None, "")}

    def _fs_kwargs(self) -> dict[str, Any]:
        s = self.settings()
        kw: dict[str, Any] = {}
        if s.get("project"):
            kw["project"] = s["project"]
        if s.get("endpoint"):
            kw["endpoint_url"] = s["endpoint"]
        if s.get("token") is not None:
            kw["token"] = s["token"]
        elif s.get("credentials_file"):
            kw["token"] = s["credentials_file"]
        elif s.get("anonymous"):
            kw["token"] = "anon"
        return kw

    def create_filesystem(self) -> fsspec.AbstractFileSystem:
        if self.settings().get("endpoint") and "gcsfs" not in sys.modules:
            # gcsfs's zonal/HNS probing stalls ~60 s per bucket call against emulators
            os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        from gcsfs import GCSFileSystem

        return GCSFileSystem(**self._fs_kwargs())

    def put_file_kwargs(self, size: int) -> dict[str, Any]:
        return {"chunksize": self.part_size}  # resumable upload in part_size chunks

    def get_file_kwargs(self, size: int | None) -> dict[str, Any]:
        # One streamed GET: gcsfs's concurrent ranged download prefetches up to
        # 2 * concurrency * 16 MiB in memory for big objects.
        return {"concurrency": 1}

    def _signer(self) -> Any:
        s = self.settings()
        path = s.get("credentials_file") or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        if isinstance(s.get("token"), dict):
            info = s["token"]
        elif path and os.path.exists(path):
            with open(path) as f:
                info = json.load(f)
        else:
            raise SigningNotSupported(
                "Signing GCS URLs needs a service-account key: set credentials_file or GOOGLE_APPLICATION_CREDENTIALS."
            )
        if info.get("type") != "service_account":
            raise SigningNotSupported("Signing GCS URLs needs a service-account key, not user credentials.")
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_info(info)

    def sign_url(
        self,
        url: str,
        *,
        method: Literal["GET", "PUT"] = "GET",
        expires_in: int = 3600,
        content_md5: str | None = None,
    ) -> str:
        """A V4 signed URL (needs google-cloud-storage: ``pip install 'flyte-gcs[sign]'``)."""
        try:
            from google.auth.credentials import AnonymousCredentials
            from google.cloud import storage as gcs
        except ImportError as e:
            raise SigningNotSupported(
                "Signing GCS URLs needs google-cloud-storage: pip install 'flyte-gcs[sign]'"
            ) from e
        signer = self._signer()
        bucket, _, key = url.split("://", 1)[1].partition("/")
        client = gcs.Client(project=self.settings().get("project") or "flyte", credentials=AnonymousCredentials())
        blob = client.bucket(bucket).blob(key)
        kw: dict[str, Any] = {}
        if self.settings().get("endpoint"):
            kw["api_access_endpoint"] = self.settings()["endpoint"]
        if method == "PUT" and content_md5:
            kw["content_md5"] = content_md5
        return str(
            blob.generate_signed_url(
                version="v4",
                expiration=dt.timedelta(seconds=expires_in),
                method=method,
                credentials=signer,
                **kw,
            )
        )
