"""RPO and RTO of the shipped backup (pg_basebackup + archive_command), on a throwaway cluster.

Starts a PostgreSQL cluster of its own (TimescaleDB with --timescaledb) with docker-compose's
archive settings, migrates it, loads N days of readings for D devices (a commune of 100
devices reports each metric once a minute), then measures:

- base backup: seconds for ``ioc backup run`` and its size;
- RPO: after a committed reading, seconds until the WAL segment holding it is in the archive
  when the server switches segments on archive_timeout (compose: 60 s), i.e. the newest data a
  restore can have;
- RTO: seconds for ``ioc backup verify`` (restore the base backup + replay the archived WAL
  into a scratch cluster and open it), with the WAL written since the base backup.

    python bench/backup_restore.py --devices 1000 --days 2 --archive-timeout 60
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.plugins.pgcluster import PgCluster

LOAD = """
INSERT INTO telemetry_points (time, value, device_key, metric_id)
SELECT now() - make_interval(mins => i), random() * 30, d.key, m.id
FROM (SELECT key FROM devices ORDER BY key LIMIT %(devices)s) d,
     (SELECT id FROM metrics WHERE name IN ('fps', 'bitrate_kbps')) m,
     generate_series(1, %(minutes)s) AS i
ON CONFLICT DO NOTHING
"""
COMMUNE = """
INSERT INTO communes (code, name, province) VALUES ('99999', 'Bench', 'Bench')
ON CONFLICT DO NOTHING
"""
DEVICES = """
INSERT INTO devices (id, type, commune_code, name, interval_s)
SELECT 'bench-' || i, 'camera', '99999', 'camera ' || i, 60 FROM generate_series(1, %(devices)s) i
ON CONFLICT DO NOTHING
"""


def ioc(env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ioc", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    return time.monotonic() - started, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--archive-timeout", type=int, default=60)
    parser.add_argument("--timescaledb", action="store_true")
    args = parser.parse_args()
    cluster = PgCluster(timescaledb=args.timescaledb)
    backup = cluster.dir / "backup"
    try:
        cluster.create(max_connections=40)
        (backup / "wal").mkdir(parents=True)
        if os.geteuid() == 0:
            for p in (backup, backup / "wal"):
                shutil.chown(p, "postgres", "postgres")
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "archive_mode = on\n"
                f"archive_command = 'test ! -f {backup}/wal/%f && cp %p {backup}/wal/%f'\n"
                f"archive_timeout = {args.archive_timeout}\n"
            )
        cluster.stop()
        cluster.start()
        subprocess.run(["psql", cluster.admin_url, "-qc", "CREATE DATABASE ioc"], check=True)
        env = {
            **os.environ,
            "IOC_DATABASE_URL": cluster.url,
            "IOC_BACKUP_URL": cluster.url,
            "IOC_BACKUP_DIR": str(backup),
            "IOC_BACKUP_PG_BINDIR": str(cluster.bindir),
        }
        ioc(env, "migrate")
        started = time.monotonic()
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute(COMMUNE)
            conn.execute(DEVICES, {"devices": args.devices})
            conn.execute(LOAD, {"devices": args.devices, "minutes": int(args.days * 1440)})
            rows = conn.execute("SELECT count(*) FROM telemetry_points").fetchone()[0]  # type: ignore[index]
            size = conn.execute("SELECT pg_database_size('ioc')").fetchone()[0]  # type: ignore[index]
        load_s = time.monotonic() - started
        base_s, out = ioc(env, "backup", "run")
        base_bytes = sum(f.stat().st_size for f in (backup / "base").rglob("*") if f.is_file())
        # Writes after the base backup: one more hour of readings, then the RPO probe.
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute(
                LOAD.replace("now() -", "now() + interval '1 hour' -"),
                {"devices": args.devices, "minutes": 60},
            )
            conn.execute(
                "INSERT INTO telemetry_points SELECT now(), 1, key, 1 FROM devices LIMIT 1"
            )
            committed = time.monotonic()
            segment = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]  # type: ignore[index]
        while not (backup / "wal" / segment).exists():
            time.sleep(0.1)
        rpo_s = time.monotonic() - committed
        rto_s, line = ioc(env, "backup", "verify")
        result = {
            "devices": args.devices,
            "rows": rows,
            "database_mb": round(size / 2**20, 1),
            "load_s": round(load_s, 1),
            "base_backup_s": round(base_s, 1),
            "base_backup_mb": round(base_bytes / 2**20, 1),
            "archive_timeout_s": args.archive_timeout,
            "rpo_s": round(rpo_s, 1),
            "rto_verify_s": round(rto_s, 1),
            "timescaledb": args.timescaledb,
        }
        print(out)
        print(line)
        print(json.dumps(result))
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
