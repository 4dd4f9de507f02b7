"""A local certificate authority and server certificates, for testing TLS.

``python -m game.tlscerts DIR`` (or ``make certs``) writes ``ca.pem`` and,
for servers 1-3, ``server-N.pem`` (certificate and key together, as Twisted's
``ssl:`` endpoint takes them) valid for ``127.0.0.1``, ``::1`` and
``localhost``.  Point a config's ``tls_ca`` at ``ca.pem`` and each server's
``listen`` at ``ssl:PORT:interface=127.0.0.1:privateKey=DIR/server-N.pem``.
Not for production: the CA key stays next to the certificates.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_NAMES = ("127.0.0.1", "::1", "localhost")


_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _alternative_names(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def make_certificates(
    directory: Path, servers: Sequence[int] = (1, 2, 3), names: Sequence[str] = DEFAULT_NAMES
) -> Path:
    """Write a CA and one certificate per server into ``directory``; return
    the CA's path."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=825)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("replgame test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "ca-key.pem").write_bytes(_pem_key(ca_key))
    for server in servers:
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(f"replgame server {server}"))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(_alternative_names(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        path = directory / f"server-{server}.pem"
        path.write_bytes(_pem_key(key) + certificate.public_bytes(serialization.Encoding.PEM))
        path.chmod(0o600)
    return ca_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m game.tlscerts", description=__doc__)
    parser.add_argument("directory", type=Path, help="where to write the CA and certificates")
    parser.add_argument(
        "--name",
        action="append",
        help="a host name or IP the certificates are valid for (repeatable; "
        "default 127.0.0.1, ::1, localhost)",
    )
    args = parser.parse_args(argv)
    ca = make_certificates(args.directory, names=args.name or DEFAULT_NAMES)
    print(f"wrote {ca} and server-1.pem .. server-3.pem in {args.directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
