"""Upgrades: from the previous release's schema with data, and a failed migration that changes
nothing. The previous release is the git commit PREVIOUS_RELEASE: its own code (from `git
archive`) migrates an empty database and imports the demo commune, then this tree upgrades it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ioc import migrate
from ioc.cli import main

pytestmark = pytest.mark.both_paths  # the compose database is TimescaleDB
REPO = Path(__file__).resolve().parents[2]
PREVIOUS_RELEASE = "1de2887"  # the last release before issue 28 (docs/deploy.md: upgrades)
SEED_READINGS = """
INSERT INTO telemetry_points (time, value, device_key, metric_id)
SELECT now() - i * interval '1 minute', i, d.key, m.id
FROM devices d, metrics m, generate_series(1, 120) AS i
WHERE d.id IN ('ts-cam-01', 'ts-cam-02') AND m.name = 'fps'
"""
# What must survive an upgrade untouched: each table's rows, as one digest per table.
DIGEST = "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} AS t"
KEPT = ("communes", "sites", "devices", "telemetry_points", "device_parents")


def _old_tree(tmp: Path) -> Path:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the git history (a clone) to rebuild the previous release")
    found = subprocess.run(
        ["git", "-C", str(REPO), "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"],
        capture_output=True,
    )
    if found.returncode != 0:
        pytest.skip(f"commit {PREVIOUS_RELEASE} is not in this clone (shallow?)")
    tree = tmp / "previous"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", PREVIOUS_RELEASE, "ioc", "devices", "storage"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def _old_ioc(tree: Path, url: str, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree), "IOC_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "ioc", *args], cwd=tree, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _digests(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(DIGEST.format(t)).fetchone()[0] for t in KEPT}  # type: ignore[index]


def _schema(url: str) -> str:
    done = subprocess.run(
        ["pg_dump", "--schema-only", "--no-owner", url], capture_output=True, text=True, check=True
    )
    # Comments and pg_dump's per-run \restrict key are not schema.
    lines = done.stdout.splitlines()
    return "\n".join(x for x in lines if not x.startswith(("--", "\\restrict", "\\unrestrict")))


@pytest.fixture
def previous_release(empty_db_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A database made and filled by the previous release's own code."""
    tree = _old_tree(tmp_path)
    _old_ioc(tree, empty_db_url, "migrate")
    _old_ioc(tree, empty_db_url, "devices", "import", str(REPO / "devices/data/demo_commune.yaml"))
    with psycopg.connect(empty_db_url) as conn:
        conn.execute(SEED_READINGS)
    yield empty_db_url, tree


def test_upgrade_from_the_previous_release_keeps_every_row(
    previous_release: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, tree = previous_release
    before = _digests(url)
    old_ids = {
        migrate.RENAMED.get(p.stem, p.stem) for p in (tree / "ioc/migrations").glob("[0-9]*.sql")
    }  # a migration renamed since then counts as applied under its new name
    new_ids = sorted(
        p.stem for p in Path(migrate.migrations_dir()).glob("[0-9]*.sql") if p.stem not in old_ids
    )
    monkeypatch.setenv("IOC_DATABASE_URL", url)
    with pytest.raises(SystemExit) as planned:
        main(["migrate", "--plan"])
    assert planned.value.code == 0
    plan = capsys.readouterr().out
    assert plan.startswith(f"{len(new_ids)} migration(s) pending"), plan
    assert [line.split()[0] for line in plan.splitlines()[1:]] == new_ids
    with pytest.raises(SystemExit) as upgraded:
        main(["migrate"])
    assert upgraded.value.code == 0, capsys.readouterr()
    assert migrate.pending(url) == []
    assert _digests(url) == before
    with psycopg.connect(url) as conn:
        readings = conn.execute(
            "SELECT count(*) FROM telemetry WHERE metric = 'fps' AND device_id LIKE 'ts-cam-0_'"
        ).fetchone()
    assert readings == (240,)


def test_a_failed_migration_leaves_the_database_as_it_was(
    previous_release: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _ = previous_release
    monkeypatch.setenv("IOC_DATABASE_URL", url)
    with pytest.raises(SystemExit):
        main(["migrate"])  # current first: only the broken one is pending below
    schema, rows = _schema(url), _digests(url)
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.migrations_dir(), folder)
    (folder / "9999_broken.sql").write_text(
        "ALTER TABLE devices ADD COLUMN upgrade_probe text;\n"
        "UPDATE devices SET name = name || ' (changed)';\n"
        "DELETE FROM telemetry_points WHERE value > 60;\n"
        "CREATE INDEX upgrade_probe_idx ON devices (upgrade_probe);\n"
        "SELECT 1 / 0;\n"
    )
    monkeypatch.setattr(migrate, "migrations_dir", lambda: str(folder))
    capsys.readouterr()
    with pytest.raises(SystemExit) as failed:
        main(["migrate"])
    assert failed.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: migration 9999_broken failed and was rolled back: division by zero"
    assert _schema(url) == schema
    assert _digests(url) == rows
    assert migrate.pending(url) == ["9999_broken"]
