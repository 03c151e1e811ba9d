"""Issue 19 item 13: secret files are new 0600 files, never written through a link.

Both the helper (ioc.secretfile) and the command that writes device credentials
(`ioc devices credentials issue --output-dir`) are checked against an existing folder holding
a world-readable file of the same name and a planted symbolic link.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from devices.cli import group
from ioc.secretfile import write_secret


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_existing_world_readable_file_is_replaced_by_a_0600_file(tmp_path: Path) -> None:
    target = tmp_path / "cam-a.json"
    target.write_text("old")
    target.chmod(0o666)
    old_inode = target.stat().st_ino
    write_secret(target, "new-secret")
    assert target.read_text() == "new-secret"
    assert _mode(target) == 0o600
    assert target.stat().st_ino != old_inode  # a new file, not the old one truncated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cam-a.json"]  # no temp left


def test_symlink_at_the_target_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    victim.chmod(0o644)
    link = tmp_path / "out" / "cam-a.json"
    link.parent.mkdir()
    link.symlink_to(victim)
    write_secret(link, "secret")
    assert victim.read_text() == "precious" and _mode(victim) == 0o644
    assert not link.is_symlink() and link.read_text() == "secret" and _mode(link) == 0o600


def test_mode_is_exact_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        write_secret(tmp_path / "a", b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a") == 0o600
    write_secret(tmp_path / "new" / "deeper" / "b", "y")
    assert _mode(tmp_path / "new" / "deeper") == 0o700


def test_a_directory_at_the_target_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        write_secret(tmp_path / "d", "x")


def test_credentials_command_into_existing_folder(
    registry_db: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "creds"
    out.mkdir(mode=0o755)
    stale = out / "cam-a.json"
    stale.write_text("{}")
    stale.chmod(0o644)
    victim = tmp_path / "victim.txt"
    victim.write_text("not yours")
    (out / "cam-b.json").symlink_to(victim)
    result = CliRunner().invoke(
        group,
        ["credentials", "issue", "--all", "--output-dir", str(out)],
        env={"IOC_DATABASE_URL": db_url},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "not yours"
    for name in ("cam-a", "cam-b", "spk-x"):
        path = out / f"{name}.json"
        assert not path.is_symlink() and _mode(path) == 0o600, name
        assert len(json.loads(path.read_text())["password"]) >= 32
