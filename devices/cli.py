"""``ioc devices``: registry commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from devices.credentials import Issued


@click.command()
@click.option(
    "--roles",
    is_flag=True,
    help="Also give the ioc_ingest / ioc_app / ioc_grafana roles LOGIN and the "
    "passwords from IOC_INGEST_DB_PASSWORD / IOC_APP_DB_PASSWORD / "
    "IOC_GRAFANA_DB_PASSWORD.",
)
@click.option("--check", is_flag=True, help="Only report pending migrations; exit 1 if any.")
@click.option(
    "--plan",
    is_flag=True,
    help="Show the migrations that would run, in order, with their first comment; change nothing.",
)
def migrate_command(roles: bool, check: bool, plan: bool) -> None:
    """Create the database if needed and apply pending migrations (safe on every start).

    Each migration runs in its own transaction: one that fails is rolled back whole and the
    ones after it do not run. With IOC_MIGRATE_ADMIN_URL the superuser first creates the
    roles, the database (owned by ioc_owner) and extensions; the migrations run as
    IOC_DATABASE_URL's role (ioc_owner).
    """
    from devices.database import prepare_for
    from ioc import migrate as m
    from ioc.db import connect
    from ioc.settings import Settings

    settings = Settings()
    if check or plan:
        todo = m.pending(settings.database_url)
        click.echo(f"{len(todo)} migration(s) pending" + (": " + ", ".join(todo) if todo else ""))
        if plan:
            for line in m.plan(todo):
                click.echo(f"  {line}")
        sys.exit(1 if todo and check else 0)
    admin_url = settings.migrate_admin_url
    if admin_url:
        from ioc.bootstrap import bootstrap

        owner = settings.owner_db_password
        done = bootstrap(
            admin_url, settings.database_url, owner.get_secret_value() if owner else None
        )
        click.echo("bootstrap (superuser): " + (", ".join(done) or "roles and database exist"))
    prepared = prepare_for(settings)
    if prepared.created_database:
        click.echo("created the database")
    if roles:
        with connect(admin_url or settings.database_url) as conn:
            passwords = {
                role: secret.get_secret_value()
                for role, attr in m.ROLES.items()
                if (secret := getattr(settings, attr)) is not None
            }
            if not passwords:
                raise click.ClickException("--roles needs IOC_*_DB_PASSWORD settings")
            click.echo("login enabled for: " + ", ".join(m.set_role_passwords(conn, passwords)))
            conn.commit()
    click.echo(
        f"applied {len(prepared.applied)} migration(s); {prepared.partitions} partition(s) "
        "created; schema current"
    )


@click.group()
def group() -> None:
    """Registry: communes, sites and devices."""


@group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Import FILE (YAML with communes and devices, or CSV of devices); idempotent."""
    from devices.registry import RegistryError, load_file
    from devices.store import import_registry
    from ioc.db import connect
    from ioc.migrate import require_current
    from ioc.settings import Settings

    settings = Settings()
    try:
        registry = load_file(file)
        require_current(settings.database_url)
        with connect(settings.database_url) as conn:
            result = import_registry(conn, registry, str(file))
    except RegistryError as exc:
        for line in exc.errors:
            click.echo(line, err=True)
        raise click.ClickException(f"{len(exc.errors)} error(s); nothing was imported") from exc
    click.echo(f"imported {file}: {result.summary()}")


@group.group("credentials")
def credentials() -> None:
    """MQTT logins: issue (secrets shown once), revoke, and write Mosquitto's files.

    \b
    Typical run after importing the registry:
      ioc devices credentials issue --all --output-dir ./secrets/devices
      ioc devices credentials issue --service ingest      # put it in IOC_MQTT_URL
      ioc devices credentials write --passwd mosquitto/passwd --acl mosquitto/acl
      docker compose kill -s HUP mosquitto                # or: kill -HUP $(pidof mosquitto)
    """


@credentials.command("issue")
@click.argument("devices", nargs=-1)
@click.option("--all", "all_devices", is_flag=True, help="Every in-service device.")
@click.option("--commune", help="With --all: only the devices of this commune code.")
@click.option(
    "--service",
    type=click.Choice(["ingest", "simulator"]),
    help="Issue the login of a service instead of devices.",
)
@click.option(
    "--collector",
    "collector_id",
    help="An edge collector: one MQTT login for the topics of every device it observes, "
    "and its inventory API token.",
)
@click.option("--rotate", is_flag=True, help="Replace existing secrets (default: keep them).")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one <username>.json per new secret (mode 0600) instead of printing CSV.",
)
def issue_command(
    devices: tuple[str, ...],
    all_devices: bool,
    commune: str | None,
    service: str | None,
    collector_id: str | None,
    rotate: bool,
    output_dir: Path | None,
) -> None:
    """Issue MQTT secrets to DEVICES (or --all, or a --service); each is shown only once.

    Devices that already have a secret keep it unless --rotate; revoked devices get a new one
    only when named. Run `write` and reload the broker afterwards.
    """
    from devices import credentials as creds
    from ioc.db import connect
    from ioc.migrate import require_current
    from ioc.settings import Settings

    if sum((bool(devices), all_devices, service is not None, collector_id is not None)) != 1:
        raise click.UsageError("give DEVICE ids, --all, --service or --collector (exactly one)")
    if commune and not all_devices:
        raise click.UsageError("--commune goes with --all")
    settings = Settings()
    require_current(settings.database_url)
    with connect(settings.database_url) as conn:
        token = None
        if collector_id:
            from devices import collector_tokens

            try:
                collector_tokens.check_collector(conn, collector_id)
            except collector_tokens.CollectorTokenError as exc:
                raise click.ClickException(str(exc)) from exc
            result = creds.issue_devices(conn, [collector_id], rotate=rotate)
            token = collector_tokens.issue(conn, collector_id, rotate=rotate)
        elif service:
            result = creds.issue_service(conn, service, rotate=rotate)
        else:
            result = creds.issue_devices(
                conn, list(devices) or None, rotate=rotate, commune=commune
            )
    _show_issued(result.issued, output_dir)
    if token:
        click.echo(f"collector API token (shown once; IOC_COLLECTOR_TOKEN): {token}")
    elif collector_id:
        click.echo("collector API token kept (use --rotate to replace)", err=True)
    click.echo(
        f"{len(result.issued)} issued, {len(result.kept)} kept (use --rotate to replace)"
        + (f", {len(result.skipped_revoked)} revoked left alone" if result.skipped_revoked else ""),
        err=True,
    )
    if result.issued:
        click.echo("next: `ioc devices credentials write ...` then reload the broker", err=True)


def _show_issued(issued: list[Issued], output_dir: Path | None) -> None:
    import csv
    import json
    import sys

    from ioc.secretfile import write_secret

    if not issued:
        return
    if output_dir is None:
        click.echo("secrets are shown once and not stored; keep them now", err=True)
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["username", "password", "client_id", "topic_prefix"])
        for item in issued:
            writer.writerow([item.username, item.password, item.username, item.topic_prefix])
        return
    output_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for item in issued:
        body = {
            "username": item.username,
            "password": item.password,
            "client_id": item.username,
            "topic_prefix": item.topic_prefix,
        }
        path = output_dir / f"{item.username}.json"
        write_secret(path, json.dumps(body, ensure_ascii=False, indent=2) + "\n")
    click.echo(f"wrote {len(issued)} secret file(s) to {output_dir}", err=True)


@credentials.command("revoke")
@click.argument("usernames", nargs=-1, required=True)
def revoke_command(usernames: tuple[str, ...]) -> None:
    """Revoke the MQTT login of devices (by id) or services (_ioc_ingest, _ioc_simulator).

    Takes effect after `write` and a broker reload (SIGHUP).
    """
    from devices.credentials import revoke
    from ioc.db import connect
    from ioc.settings import Settings

    with connect(Settings().database_url) as conn:
        missing = [name for name in usernames if not revoke(conn, name)]
    for name in missing:
        click.echo(f"{name}: no active credential", err=True)
    click.echo(f"revoked {len(usernames) - len(missing)}; now run `write` and reload the broker")
    if missing:
        raise SystemExit(1)


@credentials.command("list")
def list_command() -> None:
    """List MQTT logins (no secrets): username, role, commune, issued, revoked."""
    from devices.credentials import list_credentials
    from ioc.db import connect
    from ioc.settings import Settings

    with connect(Settings().database_url) as conn:
        rows = list_credentials(conn)
    for row in rows:
        state = "revoked " + row.revoked_at.isoformat() if row.revoked_at else "active"
        if row.decommissioned:
            state += " (device decommissioned: not in the broker files)"
        click.echo(
            f"{row.username}\t{row.role}\t{row.commune_code or '-'}\t"
            f"{row.issued_at.isoformat()}\t{state}"
        )


@credentials.command("write")
@click.option(
    "--passwd",
    "passwd_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Mosquitto password_file to (re)write.",
)
@click.option(
    "--acl",
    "acl_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Mosquitto acl_file to (re)write.",
)
@click.option(
    "--nats-auth",
    "nats_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The NATS bus's authorization file (IOC_BUS=nats; every node includes it).",
)
def write_command(passwd_path: Path | None, acl_path: Path | None, nats_path: Path | None) -> None:
    """Write the broker's login and permission files from the active credentials (idempotent).

    Mosquitto reads --passwd/--acl at start and on SIGHUP (`kill -HUP $(pidof mosquitto)`);
    the NATS bus reads --nats-auth at start and on `nats-server --signal reload` (SIGHUP) of
    every node, without a restart.
    """
    from devices.credentials import active_logins
    from devices.mqtt_files import render_acl, render_passwd, write_atomically
    from devices.nats_files import render_nats_auth
    from ioc.db import connect
    from ioc.settings import Settings

    if (passwd_path is None) != (acl_path is None):
        raise click.UsageError("--passwd and --acl go together")
    if passwd_path is None and nats_path is None:
        raise click.UsageError("give --passwd and --acl (Mosquitto), --nats-auth (NATS), or both")
    with connect(Settings().database_url) as conn:
        logins = active_logins(conn)
    files: list[tuple[Path, str]] = []
    if passwd_path is not None and acl_path is not None:
        files += [(passwd_path, render_passwd(logins)), (acl_path, render_acl(logins))]
    if nats_path is not None:
        text, missing = render_nats_auth(logins)
        files.append((nats_path, text))
        if missing:
            click.echo(
                f"warning: {len(missing)} login(s) issued before the bus have no bcrypt hash and "
                f"cannot log in to NATS: {', '.join(missing[:10])}; rotate them "
                "(`ioc devices credentials issue --rotate ...`)",
                err=True,
            )
    changed = [str(path) for path, text in files if write_atomically(path, text)]
    click.echo(
        f"{len(logins)} login(s); "
        + (f"changed: {', '.join(changed)}; reload the broker" if changed else "files unchanged")
    )
