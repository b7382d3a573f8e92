"""grpcio aio channels: ``dns:///host:port``, TLS by default, a CA file, or skip-verify."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from flyte.admin import AdminSettings
from flyte.errors import ConfigError

# Our own retries and resumption run above the channel, so grpc's built-in retry is off; reconnect
# backoff is short so a control plane that restarts is found again within a second or two.
CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.enable_retries", 0),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]


def _split(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":")
    return host.strip("[]"), int(port)


def fetch_server_certificate(target: str, timeout: float = 10.0) -> bytes:
    """The server's leaf certificate (PEM), read without verifying it: for ``admin.insecureSkipVerify``."""
    host, port = _split(target)
    try:
        return ssl.get_server_certificate((host, port), timeout=timeout).encode()
    except OSError as e:
        raise ConfigError(
            f"admin.insecureSkipVerify: could not read the TLS certificate of {target} ({e}); "
            "is the endpoint up and serving TLS? (use admin.insecure for plaintext)"
        ) from None


def certificate_name(pem: bytes, fallback: str) -> str:
    """A DNS name (or IP) the certificate is valid for, so the skip-verify channel's name check passes."""
    try:
        from cryptography import x509
    except ImportError:
        return fallback
    cert = x509.load_pem_x509_certificate(pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName) + [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        if names:
            return fallback if fallback in names else names[0]
    except x509.ExtensionNotFound:
        pass
    cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else fallback


def channel_credentials(settings: AdminSettings) -> tuple[grpc.ChannelCredentials, list[tuple[str, Any]]]:
    """TLS credentials (and extra channel options) for ``settings``."""
    options: list[tuple[str, Any]] = []
    if settings.insecure_skip_verify:
        # grpcio cannot turn verification off: trust exactly the certificate the server presents.
        pem = fetch_server_certificate(settings.target, settings.timeout)
        host, _ = _split(settings.target)
        options.append(("grpc.ssl_target_name_override", certificate_name(pem, host)))
        return grpc.ssl_channel_credentials(root_certificates=pem), options
    if settings.ca_cert_file_path:
        p = Path(settings.ca_cert_file_path).expanduser()
        try:
            roots = p.read_bytes()
        except OSError as e:
            raise ConfigError(f"admin.caCertFilePath {p} cannot be read ({e.strerror}).") from None
        return grpc.ssl_channel_credentials(root_certificates=roots), options
    return grpc.ssl_channel_credentials(), options


def create_channel(
    settings: AdminSettings, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()
) -> grpc.aio.Channel:
    """An aio channel to ``dns:///host:port`` (plaintext when ``settings.insecure``)."""
    target = f"dns:///{settings.target}"
    if settings.insecure:
        return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS, interceptors=list(interceptors))
    creds, extra = channel_credentials(settings)
    return grpc.aio.secure_channel(target, creds, options=CHANNEL_OPTIONS + extra, interceptors=list(interceptors))
