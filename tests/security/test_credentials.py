"""`ioc devices credentials`: issue once, keep, rotate, revoke, and write Mosquitto's files."""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
import subprocess
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from devices.cli import group
from devices.mqtt_files import hash_secret, verify_secret


def run(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        group, ["credentials", *args], env={"IOC_DATABASE_URL": db_url}, catch_exceptions=False
    )


def issued_rows(result: Result) -> dict[str, dict[str, str]]:
    return {row["username"]: row for row in csv.DictReader(io.StringIO(result.stdout))}


def hashes(db: psycopg.Connection) -> dict[str, str | None]:
    return dict(db.execute("SELECT username, password_hash FROM mqtt_credentials").fetchall())


def test_hash_format_is_mosquittos(tmp_path: Path) -> None:
    assert hash_secret("pw", salt=b"0123456789ab").startswith("$7$101$MDEyMzQ1Njc4OWFi$")
    assert verify_secret("pw", hash_secret("pw")) and not verify_secret("px", hash_secret("pw"))
    assert not verify_secret("pw", "garbage") and not verify_secret("pw", "$6$1$a$b")
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd not installed")
    passwd = tmp_path / "passwd"
    subprocess.run([tool, "-c", "-b", str(passwd), "cam-a", "the-secret"], check=True)
    _, theirs = passwd.read_text().strip().split(":", 1)
    assert theirs.startswith("$7$") and verify_secret("the-secret", theirs)


def test_issue_shows_each_secret_once_and_stores_only_hashes(
    registry_db: psycopg.Connection, db_url: str
) -> None:
    first = run(db_url, "issue", "--all")
    assert first.exit_code == 0, first.output
    rows = issued_rows(first)
    assert sorted(rows) == ["cam-a", "cam-b", "spk-x"]  # not the decommissioned cam-old
    assert rows["cam-a"]["client_id"] == "cam-a"
    assert rows["spk-x"]["topic_prefix"] == "ioc/v1/21026/spk-x/"
    stored = registry_db.execute("SELECT row_to_json(c)::text FROM mqtt_credentials c").fetchall()
    for row in rows.values():
        assert len(row["password"]) >= 32
        assert all(row["password"] not in text for (text,) in stored)
        assert verify_secret(row["password"], hashes(registry_db)[row["username"]] or "")
    # Idempotent: a second run issues nothing and changes nothing.
    before = hashes(registry_db)
    again = run(db_url, "issue", "--all")
    assert again.exit_code == 0 and issued_rows(again) == {}
    assert "0 issued, 3 kept" in again.stderr
    assert hashes(registry_db) == before


def test_rotate_and_revoke(registry_db: psycopg.Connection, db_url: str) -> None:
    run(db_url, "issue", "--all")
    before = hashes(registry_db)
    rotated = issued_rows(run(db_url, "issue", "cam-a", "--rotate"))
    after = hashes(registry_db)
    assert list(rotated) == ["cam-a"] and after["cam-a"] != before["cam-a"]
    assert {k: v for k, v in after.items() if k != "cam-a"} == {
        k: v for k, v in before.items() if k != "cam-a"
    }
    assert run(db_url, "revoke", "cam-a").exit_code == 0
    assert hashes(registry_db)["cam-a"] is None
    assert run(db_url, "revoke", "cam-a").exit_code == 1  # nothing active left to revoke
    # A revoked device is not silently re-enabled by a bulk run, only when named.
    bulk = run(db_url, "issue", "--all")
    assert issued_rows(bulk) == {} and "1 revoked left alone" in bulk.stderr
    assert list(issued_rows(run(db_url, "issue", "cam-a"))) == ["cam-a"]
    listing = run(db_url, "list").stdout
    assert "cam-a\tdevice\t21025" in listing and "active" in listing


def test_unknown_or_decommissioned_devices_issue_nothing(
    registry_db: psycopg.Connection, db_url: str
) -> None:
    for args in (["cam-a", "nope"], ["cam-old"]):
        result = CliRunner().invoke(
            group, ["credentials", "issue", *args], env={"IOC_DATABASE_URL": db_url}
        )
        assert result.exit_code != 0
    assert hashes(registry_db) == {}
    usage = CliRunner().invoke(group, ["credentials", "issue"], env={"IOC_DATABASE_URL": db_url})
    assert usage.exit_code == 2


def test_output_dir_files_are_private(
    registry_db: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "secrets"
    result = run(db_url, "issue", "--all", "--output-dir", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["cam-a.json", "cam-b.json", "spk-x.json"]
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        body = json.loads(f.read_text())
        assert verify_secret(body["password"], hashes(registry_db)[body["username"]] or "")


def test_write_renders_the_registry_and_is_idempotent(
    registry_db: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    run(db_url, "issue", "--all")
    ingest = issued_rows(run(db_url, "issue", "--service", "ingest"))
    assert list(ingest) == ["_ioc_ingest"]
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    first = run(db_url, "write", "--passwd", str(passwd), "--acl", str(acl))
    assert first.exit_code == 0 and "reload the broker" in first.stdout
    users = [line.split(":")[0] for line in passwd.read_text().splitlines()]
    assert users == ["_ioc_ingest", "cam-a", "cam-b", "spk-x"]
    text = acl.read_text()
    assert "user cam-a\ntopic write ioc/v1/21025/cam-a/telemetry\n" in text
    assert "user spk-x\ntopic write ioc/v1/21026/spk-x/telemetry\n" in text
    assert "user _ioc_ingest\ntopic read ioc/v1/#\n" in text
    assert "topic read" not in text.split("user _ioc_ingest")[0]
    assert "pattern" not in text and "cam-old" not in text
    unchanged = run(db_url, "write", "--passwd", str(passwd), "--acl", str(acl))
    assert "files unchanged" in unchanged.stdout
    # Decommissioning or revoking removes the login from both files.
    registry_db.execute("UPDATE devices SET decommissioned_at = now() WHERE id = 'cam-b'")
    run(db_url, "revoke", "spk-x")
    run(db_url, "write", "--passwd", str(passwd), "--acl", str(acl))
    assert "cam-b" not in passwd.read_text() + acl.read_text()
    assert "spk-x" not in passwd.read_text() + acl.read_text()
    assert stat.S_IMODE(passwd.stat().st_mode) == 0o644
