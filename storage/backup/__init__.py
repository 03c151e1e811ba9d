"""Backups with PostgreSQL's own tools: daily ``pg_basebackup`` + the WAL archive.

Layout of ``IOC_BACKUP_DIR`` (docs/deploy.md):

    base/<YYYYmmddTHHMMSSZ>/   base.tar.gz, pg_wal.tar.gz, backup_manifest (complete ones only;
                               a backup in progress is ``<stamp>.partial``)
    wal/                       segments copied by the server's ``archive_command``

``run`` takes a base backup and applies the retention; ``verify`` restores the newest base
backup plus the archived WAL into a scratch cluster on a free port and checks it.
"""
