"""What storage errors and logs may show: URLs without signatures or passwords, text without secrets.

Example::

    from flyte.storage import redact_url, scrub

    redact_url("https://acct.blob.core.windows.net/c/k?sv=1&sig=abc")  # 'https://acct.blob.core.windows.net/c/k'
    scrub("GET https://h/k?X-Amz-Signature=abc failed")               # 'GET https://h/k failed'
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: Schemes whose ``name@host`` is not a credential (``abfss://container@account.dfs...``).
_AT_IS_NOT_USERINFO = ("abfs", "abfss", "az", "wasb", "wasbs")

_URL_QUERY = r"(https?://[^\s?'\"<>]+)\?[^\s'\"<>]*"
_SECRET_PARAM = (
    r"\b(sig|signature|x-amz-signature|x-goog-signature|x-amz-security-token|accountkey|sharedaccesssignature)=[^&;\s'\"<>]+"
)

# secret-looking values of the configured storage options, replaced wherever they appear
_secrets: list[str] = []


def redact_url(url: str) -> str:
    """A URL safe to print: no query string (signatures) and no user:password.

    ``abfss://container@account.dfs.core.windows.net/...`` keeps its container: there the part
    before ``@`` names a container, not a user.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("?", 1)[0]
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if parts.scheme.lower() not in _AT_IS_NOT_USERINFO or ":" in userinfo:
            netloc = host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def scrub(text: str) -> str:
    """``text`` with URL query strings, signatures and account keys removed."""
    # Patterns compiled on first use (re caches them): every run imports this module, few ever scrub.
    text = re.sub(_URL_QUERY, r"\1", text)
    text = re.sub(_SECRET_PARAM, lambda m: m.group(1) + "=REDACTED", text, flags=re.I)
    for value in _secrets:
        text = text.replace(value, "REDACTED")
    return text


def remember_secrets(options: dict[str, Any]) -> None:
    """Note the secret-looking values of the storage options (keys naming a secret, key, token or
    connection string) so that :func:`scrub` removes them (called by :func:`flyte.storage.configure`)."""
    _secrets[:] = [
        v
        for k, v in _flat_options(options)
        if isinstance(v, str) and len(v) >= 8 and any(w in k.lower() for w in ("secret", "key", "token", "connection"))
    ]


def _flat_options(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(d, dict):
        return [kv for k, v in d.items() for kv in _flat_options(v, f"{prefix}{k}.")]
    return [(prefix, d)]
