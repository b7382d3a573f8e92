"""The Azure Blob Storage / ADLS Gen2 backend.

URLs: ``abfs://container/path``, ``abfss://container@account.dfs.core.windows.net/path``
and ``az://container/path``. An account named in the URL always wins over a configured
``account_name``; credentials bound to another account (a connection string, or the key / SAS
token of the configured account) are an error rather than a silent write to that account.

Credentials, first match wins:

1. ``flyte.init(storage={...})`` / the config file (keys ``connection_string``,
   ``account_name``, ``account_key``, ``sas_token``, ``tenant_id``, ``client_id``,
   ``client_secret``, ``anonymous``; also accepted nested under ``azure`` or as ``azure.<key>``),
2. ``AZURE_STORAGE_CONNECTION_STRING``, ``AZURE_STORAGE_ACCOUNT_NAME`` / ``_KEY``,
   ``AZURE_STORAGE_SAS_TOKEN``, ``AZURE_STORAGE_CLIENT_ID`` / ``_CLIENT_SECRET`` / ``_TENANT_ID``
   (read by adlfs), and the service-principal variables ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``,
   ``AZURE_CLIENT_SECRET``,
3. azure-identity's default chain (managed identity, Azure CLI login).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Any, Literal

from flyte.storage.backend import StorageBackend, section_options
from flyte.storage.errors import SigningNotSupported

if TYPE_CHECKING:
    import fsspec

_KEYS = (
    "connection_string",
    "account_name",
    "account_key",
    "sas_token",
    "tenant_id",
    "client_id",
    "client_secret",
    "anonymous",
)
_SP_ENV = {"tenant_id": "AZURE_TENANT_ID", "client_id": "AZURE_CLIENT_ID", "client_secret": "AZURE_CLIENT_SECRET"}


def account_from_url(url: str) -> str | None:
    """``account`` of ``abfss://container@account.dfs.core.windows.net/...``, else ``None``."""
    rest = url.split("://", 1)[-1]
    host = rest.split("/", 1)[0]
    if "@" in host:
        return host.split("@", 1)[1].split(".", 1)[0] or None
    return None


def account_of_connection_string(conn: str) -> str | None:
    """The account a connection string is for (``AccountName=``, else its blob endpoint's host)."""
    parts = dict(p.split("=", 1) for p in conn.split(";") if "=" in p)
    fields = {k.strip().lower(): v.strip() for k, v in parts.items()}
    if fields.get("accountname"):
        return fields["accountname"]
    endpoint = fields.get("blobendpoint", "")
    host = endpoint.split("://", 1)[-1].split("/", 1)[0]
    if host.endswith(".core.windows.net"):
        return host.split(".", 1)[0]
    return None


class AzureBackend(StorageBackend):
    name = "azure"
    protocols = ("abfs", "abfss", "az")

    def settings(self, url: str | None = None) -> dict[str, Any]:
        """The adlfs settings for ``url``: options, then the environment.

        When ``url`` names a storage account (``abfss://container@ACCOUNT.dfs...``) that account
        is used, whatever ``account_name`` is configured; credentials bound to another account
        (a connection string, or an account key / SAS token of the configured account) raise
        :class:`~flyte.storage.errors.StorageError` instead of reaching the wrong account.
        """
        s = section_options(self.options, "azure", _KEYS)
        url_account = account_from_url(url) if url else None
        if url and url_account:
            self._check_account(url, url_account, s)
        if not s.get("connection_string") and not os.environ.get("AZURE_STORAGE_CONNECTION_STRING"):
            if url_account:
                s["account_name"] = url_account
            for key, env in _SP_ENV.items():
                if not s.get(key) and not os.environ.get("AZURE_STORAGE_" + env[6:]) and os.environ.get(env):
                    s[key] = os.environ[env]
        return {k: v for k, v in s.items() if v not in (None, "")}

    @staticmethod
    def _check_account(url: str, url_account: str, s: dict[str, Any]) -> None:
        """Refuse credentials that belong to an account other than the one ``url`` names."""
        from flyte.storage import redact_url
        from flyte.storage.errors import StorageError

        def mismatch(other: str, what: str) -> StorageError:
            return StorageError(
                f"{redact_url(url)} names the storage account {url_account!r}, but the configured {what} "
                f"is for the account {other!r}. Configure credentials for {url_account!r} (or identity-based "
                "ones: a service principal or azure-identity's default chain), or use a URL without an "
                "account (abfs://container/path) to mean the configured one."
            )

        conn = s.get("connection_string") or os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        if conn:
            other = account_of_connection_string(str(conn))
            if other and other.lower() != url_account.lower():
                source = "connection_string" if s.get("connection_string") else "AZURE_STORAGE_CONNECTION_STRING"
                raise mismatch(other, source)
            return
        named = s.get("account_name") or os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
        bound = [k for k in ("account_key", "sas_token") if s.get(k) or os.environ.get("AZURE_STORAGE_" + k.upper())]
        if named and bound and str(named).lower() != url_account.lower():
            raise mismatch(str(named), " / ".join(bound))

    def _fs_kwargs(self, url: str | None = None) -> dict[str, Any]:
        s = self.settings(url)
        kw = {k: v for k, v in s.items() if k != "anonymous"}
        if s.get("anonymous"):
            kw["anon"] = True
        kw["max_concurrency"] = self.part_concurrency
        return kw

    def filesystem_key(self, url: str) -> str | None:
        # one filesystem per storage account a URL names (abfss://container@ACCOUNT.dfs...)
        return account_from_url(url)

    def create_filesystem(self) -> fsspec.AbstractFileSystem:
        return self._make_filesystem(None)

    def create_filesystem_for(self, url: str) -> fsspec.AbstractFileSystem:
        return self._make_filesystem(url)

    def _make_filesystem(self, url: str | None) -> fsspec.AbstractFileSystem:
        from adlfs import AzureBlobFileSystem

        fs = AzureBlobFileSystem(**self._fs_kwargs(url))
        self._tune(fs)
        return fs

    def _tune(self, fs: Any) -> None:
        # Blob clients share the service client's config: above 2 parts, upload in staged blocks of
        # part_size (committed at the end, so a failed upload never shows), instead of one
        # in-memory PUT of up to 64 MiB per file.
        clients = fs.service_client if isinstance(fs.service_client, list) else [fs.service_client]
        for client in clients:
            cfg = getattr(client, "_config", None)
            if cfg is not None:
                cfg.max_single_put_size = 2 * self.part_size
                cfg.max_block_size = self.part_size
                cfg.min_large_block_upload_threshold = 1 << 20
                # downloads: the SDK's first GET is buffered whole (32 MiB by default), so keep it
                # and the following ranged chunks small; memory then stays flat and small
                cfg.max_single_get_size = 4 << 20
                cfg.max_chunk_get_size = 4 << 20

    def put_file_kwargs(self, size: int) -> dict[str, Any]:
        return {"max_concurrency": self.part_concurrency}

    def get_file_kwargs(self, size: int | None) -> dict[str, Any]:
        return {"max_concurrency": 1}  # one streamed download: flat memory, no range bookkeeping

    def signed_put_headers(self, *, content_length: int, content_md5: str | None = None) -> dict[str, str]:
        headers = super().signed_put_headers(content_length=content_length, content_md5=content_md5)
        headers["x-ms-blob-type"] = "BlockBlob"
        return headers

    def _service_client(self, url: str) -> Any:
        from azure.storage.blob import BlobServiceClient

        s = self.settings(url)
        conn = s.get("connection_string") or os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        if conn:
            return BlobServiceClient.from_connection_string(conn)
        account = s.get("account_name") or os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
        key = s.get("account_key") or os.environ.get("AZURE_STORAGE_ACCOUNT_KEY")
        if not account or not key:
            raise SigningNotSupported(
                "Signing Azure URLs needs an account key (connection_string or account_name + account_key)."
            )
        return BlobServiceClient(
            f"https://{account}.blob.core.windows.net", credential={"account_name": account, "account_key": key}
        )

    def sign_url(
        self,
        url: str,
        *,
        method: Literal["GET", "PUT"] = "GET",
        expires_in: int = 3600,
        content_md5: str | None = None,
    ) -> str:
        """A SAS URL for one blob (Azure SAS cannot bind Content-MD5; the PUT header still is checked)."""
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        svc = self._service_client(url)
        key = getattr(svc.credential, "account_key", None)
        if not key:
            raise SigningNotSupported("Signing Azure URLs needs an account key; this configuration has none.")
        container, blob = self._container_and_blob(url)
        perms = BlobSasPermissions(read=True) if method == "GET" else BlobSasPermissions(create=True, write=True)
        now = dt.datetime.now(dt.UTC)
        sas = generate_blob_sas(
            account_name=svc.account_name,
            container_name=container,
            blob_name=blob,
            account_key=key,
            permission=perms,
            start=now - dt.timedelta(minutes=5),
            expiry=now + dt.timedelta(seconds=expires_in),
        )
        from urllib.parse import quote

        return f"{svc.url.rstrip('/')}/{container}/{quote(blob)}?{sas}"

    def _container_and_blob(self, url: str) -> tuple[str, str]:
        from adlfs import AzureBlobFileSystem

        path = AzureBlobFileSystem._strip_protocol(url)
        container, _, blob = path.partition("/")
        return container, blob
