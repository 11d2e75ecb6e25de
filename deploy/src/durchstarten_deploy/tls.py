"""The local broker's TLS material: a CA of the stack's own and a broker certificate it signs.

Made with the `cryptography` package at every start of the broker, into the stack's state
directory (never into git):

- `ca.pem`: the CA certificate (public), which clients trust instead of the system's CAs;
- `broker.p12`: the broker's key and certificate, a PKCS#12 keystore (owner-only),
  encrypted with a random password that lives only in the broker's owner-only config.

PKCS#12 rather than a PEM keystore: Kafka's file-based PEM keystore insists on an encrypted
PKCS#8 key with `ssl.key.password`, and which PBE schemes the JVM decrypts there varies by
Java version; PKCS#12 with PBES2/AES-256 and an HMAC-SHA256 MAC is what Java 17's own
`keytool` writes by default.

The CA's private key exists only in memory while the broker certificate is signed: nothing
else can ever be signed by it, so trusting `ca.pem` trusts exactly this one broker
certificate. A fresh pair at every start also means no expiry bookkeeping.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BROKER_HOSTS = ("127.0.0.1", "localhost")
"""The names the broker's certificate is valid for: the stack binds to 127.0.0.1 only."""

VALIDITY = datetime.timedelta(days=30)
"""Long enough for any `make run` session; the pair is made anew at every start anyway."""

CLOCK_SKEW = datetime.timedelta(minutes=5)
"""Certificates are valid from a little before now, so a client's clock running behind
this machine's by a few minutes still accepts them."""

KEYSTORE_ALIAS = b"broker"


@dataclass(frozen=True)
class BrokerTls:
    """Where the broker's TLS material is and how to open its keystore."""

    ca_file: Path
    """The CA certificate (PEM) clients verify the broker against."""
    keystore: Path
    """The broker's key and certificate (PKCS#12)."""
    keystore_password: str
    """The keystore's password (Kafka's `ssl.keystore.password`)."""

    @property
    def keystore_type(self) -> str:
        """Kafka's `ssl.keystore.type` for `keystore`."""
        return "PKCS12"


def _host_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """Subject alternative names: IP addresses as IP entries, everything else as DNS names.

    Clients check an IP address only against IP entries (RFC 6125), so 127.0.0.1 must not
    be written as a DNS name.
    """
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def make_broker_tls(directory: Path, hosts: Sequence[str] = BROKER_HOSTS) -> BrokerTls:
    """Write a new CA certificate and a broker keystore for `hosts` into `directory`.

    Replaces what an earlier start left there: the broker is restarted with the new pair,
    and clients read `ca.pem` when they connect.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - CLOCK_SKEW, now + VALIDITY

    # P-256: quick to make at every start, and every client here (Java 17, OpenSSL 3 in
    # Python and librdkafka) speaks ECDSA over TLS 1.2 and 1.3.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Durchstarten local stack"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Durchstarten local CA {now:%Y-%m-%d}"),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        # path_length=0: it signs end-entity certificates only, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_host_names(hosts)), critical=False)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(broker_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    password = secrets.token_hex(24)
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password.encode())
    )
    # The chain is the broker's certificate alone: a client must hold the CA already, and
    # a CA the broker sent along would prove nothing (RFC 8446 4.4.2 lets it be left out).
    keystore = pkcs12.serialize_key_and_certificates(
        KEYSTORE_ALIAS, broker_key, broker_cert, None, encryption
    )

    tls = BrokerTls(
        ca_file=directory / "ca.pem",
        keystore=directory / "broker.p12",
        keystore_password=password,
    )
    tls.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_private_bytes(tls.keystore, keystore)
    return tls


def _write_private_bytes(path: Path, data: bytes) -> None:
    """Write a binary secret readable by its owner only, from the first byte on.

    An earlier start's file is removed first: `O_CREAT`'s mode applies to a new file only.
    """
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
