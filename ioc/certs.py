"""``ioc certs init``: the deployment's TLS files, from an internal CA or the province's own.

Writes into one directory (what docker-compose mounts into nginx and Mosquitto):

- ``ca.crt`` / ``ca.key``: the internal CA (absent when the province's certificate is used);
  keep ``ca.key`` offline once the certificates are issued.
- ``server.crt`` (leaf + chain) / ``server.key``: the web proxy's and the broker's certificate.
- ``devices-ca.crt``: the bundle devices and collectors trust for ``mqtts://`` (the CA that
  signed ``server.crt``).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ioc.errors import IocError

FILES = ("ca.crt", "server.crt", "server.key", "devices-ca.crt")


class CertError(IocError):
    """The certificate files cannot be written or the given ones do not fit together."""


@dataclass(frozen=True)
class Written:
    """What ``init`` wrote."""

    directory: Path
    hosts: tuple[str, ...]
    internal_ca: bool


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Commune IOC"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _write(path: Path, data: bytes, secret: bool = False) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    # Keys: owner and group only (the broker/proxy containers read them through their group).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640 if secret else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)


def issue_internal(directory: Path, hosts: tuple[str, ...], days: int) -> Written:
    """A new internal CA and a server certificate for ``hosts`` signed by it."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Commune IOC internal CA"))
        .issuer_name(_name("Commune IOC internal CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days * 3))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / "ca.key", _pem_key(ca_key), secret=True)
    _write(directory / "ca.crt", ca_pem)
    _write(directory / "server.key", _pem_key(key), secret=True)
    _write(directory / "server.crt", server.public_bytes(serialization.Encoding.PEM) + ca_pem)
    _write(directory / "devices-ca.crt", ca_pem)
    return Written(directory, hosts, internal_ca=True)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """The issuer's key signed ``cert`` (not merely a matching name)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def take_provided(directory: Path, cert: Path, key: Path, chain: Path) -> Written:
    """Use the province's certificate: check key and chain fit, then copy them in place."""
    try:
        leaf = x509.load_pem_x509_certificates(cert.read_bytes())
        private = serialization.load_pem_private_key(key.read_bytes(), password=None)
        roots = x509.load_pem_x509_certificates(chain.read_bytes())
    except (OSError, ValueError) as exc:
        raise CertError(f"cannot read the given certificate files: {exc}") from exc
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf[0].public_key().public_bytes(
        serialization.Encoding.DER, pub
    ) != private.public_key().public_bytes(serialization.Encoding.DER, pub):
        raise CertError(f"{key} is not the key of {cert}")
    # Follow the certificate file's own chain (leaf, intermediates) as far as it goes; the
    # bundle devices will trust must hold its top, or the certificate that signed the top.
    top = leaf[0]
    for candidate in leaf[1:]:
        if _issued_by(top, candidate):
            top = candidate
    if not any(top == r or _issued_by(top, r) for r in roots):
        raise CertError(f"{chain} does not contain the issuer of {cert} ({top.issuer})")
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / "server.crt", cert.read_bytes())
    _write(directory / "server.key", key.read_bytes(), secret=True)
    shutil.copyfile(chain, directory / "devices-ca.crt")
    hosts = tuple(
        str(n.value)
        for n in leaf[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    )
    return Written(directory, hosts, internal_ca=False)


@click.group()
def group() -> None:
    """TLS certificates of the web proxy and the MQTT broker."""


@group.command("init")
@click.option("--dir", "directory", required=True, type=click.Path(path_type=Path))
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="Name or address clients use (repeatable; default: localhost, 127.0.0.1).",
)
@click.option("--days", type=click.IntRange(1, 3650), default=825, show_default=True)
@click.option("--cert", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--chain", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key-group",
    type=int,
    help="Give the keys this group id (1883: the Mosquitto image's user reads server.key).",
)
@click.option("--force", is_flag=True, help="Replace existing files.")
def init_command(
    directory: Path,
    hosts: tuple[str, ...],
    days: int,
    cert: Path | None,
    key: Path | None,
    chain: Path | None,
    key_group: int | None,
    force: bool,
) -> None:
    """Write CA, server certificate and the devices' CA bundle into DIR.

    Without --cert/--key/--chain an internal CA is generated; with them, the province's
    certificate (and the chain devices must trust) is checked and copied instead.
    """
    if (directory / "server.crt").exists() and not force:
        raise CertError(f"{directory}/server.crt exists; --force replaces it")
    given = (cert, key, chain)
    if any(given) and not all(given):
        raise click.UsageError("--cert, --key and --chain go together")
    if cert and key and chain:
        written = take_provided(directory, cert, key, chain)
    else:
        written = issue_internal(directory, hosts or ("localhost", "127.0.0.1"), days)
    if key_group is not None:
        for name in ("server.key", "ca.key"):
            if (directory / name).exists():
                os.chown(directory / name, -1, key_group)
    origin = "internal CA" if written.internal_ca else "provided certificate"
    click.echo(f"{origin}: {', '.join(written.hosts)} -> {directory} ({', '.join(FILES)})")
