"""`ioc certs init`: an internal CA and server certificate that verify, or the province's own
certificate checked and installed; mistakes are one line."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from ioc.certs import issue_internal
from ioc.cli import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(args)
    out = capsys.readouterr()
    return int(done.value.code or 0), out.out, out.err


def test_internal_ca_issues_a_server_certificate_that_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certs = tmp_path / "certs"
    code, out, _ = _run(
        [
            "certs",
            "init",
            "--dir",
            str(certs),
            "--host",
            "ioc.example.gov.vn",
            "--host",
            "10.0.0.5",
        ],
        capsys,
    )
    assert code == 0 and out.startswith("internal CA: ioc.example.gov.vn, 10.0.0.5 -> ")
    for key in ("server.key", "ca.key"):
        assert stat.S_IMODE((certs / key).stat().st_mode) == 0o640
    leaf = x509.load_pem_x509_certificates((certs / "server.crt").read_bytes())[0]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["ioc.example.gov.vn"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["10.0.0.5"]
    # A TLS client trusting devices-ca.crt accepts the server's chain (what devices do).
    client = ssl.create_default_context(cafile=certs / "devices-ca.crt")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certs / "server.crt", certs / "server.key")
    assert client.cert_store_stats()["x509_ca"] == 1
    code, _, err = _run(["certs", "init", "--dir", str(certs)], capsys)
    assert code == 1 and err.strip() == f"error: {certs}/server.crt exists; --force replaces it"


def test_the_provinces_certificate_is_checked_then_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    province = issue_internal(tmp_path / "province", ("ioc.quangngai.gov.vn",), 90).directory
    given = [
        "--cert", str(province / "server.crt"), "--key", str(province / "server.key"),
        "--chain", str(province / "ca.crt"),
    ]  # fmt: skip
    code, out, _ = _run(["certs", "init", "--dir", str(tmp_path / "certs"), *given], capsys)
    assert code == 0 and out.startswith("provided certificate: ioc.quangngai.gov.vn -> ")
    assert not (tmp_path / "certs/ca.key").exists()
    assert (tmp_path / "certs/devices-ca.crt").read_bytes() == (province / "ca.crt").read_bytes()
    other = issue_internal(tmp_path / "other", ("x",), 1).directory
    wrong_key = [*given[:2], "--key", str(other / "server.key"), *given[4:]]
    code, _, err = _run(["certs", "init", "--dir", str(tmp_path / "c2"), *wrong_key], capsys)
    assert code == 1 and "is not the key of" in err and len(err.strip().splitlines()) == 1
    wrong_chain = [*given[:4], "--chain", str(other / "ca.crt")]
    code, _, err = _run(["certs", "init", "--dir", str(tmp_path / "c3"), *wrong_chain], capsys)
    assert code == 1 and "does not contain the issuer" in err
    code, _, err = _run(["certs", "init", "--dir", str(tmp_path / "c4"), *given[:2]], capsys)
    assert code == 2 and "--cert, --key and --chain go together" in err
