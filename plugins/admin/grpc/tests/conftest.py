from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

import pytest
from flyte.testing.hermetic import isolate
from flyte_grpc.testing import ControlPlane, LoopbackServer, TokenServer


@pytest.fixture(autouse=True)
def _hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    import flyte.config
    from flyte.plugins.manager import isolated_plugins

    isolate(monkeypatch, tmp_path_factory.mktemp("home"))
    flyte.config.set_overrides({})
    with isolated_plugins(("grpc", __import__("flyte_grpc.hooks").hooks)):
        yield
    flyte.config.set_overrides({})
    flyte.config.set_config(None)


@pytest.fixture
async def server():
    srv = await LoopbackServer().start()
    yield srv
    await srv.stop()


@pytest.fixture
def tokens():
    t = TokenServer()
    yield t
    t.close()


@pytest.fixture
async def auth_server(tokens: TokenServer):
    srv = await LoopbackServer(ControlPlane(tokens=tokens)).start()
    yield srv
    await srv.stop()


def _make_certs(directory: Path) -> dict[str, Path | bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flyte test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    return {
        "ca_file": ca_file,
        "key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        "cert": cert.public_bytes(pem),
    }


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | bytes]:
    return _make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
async def tls_server(certs):
    srv = await LoopbackServer(tls=(certs["key"], certs["cert"])).start()
    yield srv
    await srv.stop()
