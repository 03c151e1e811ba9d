"""`ioc api` (serve the REST API with uvicorn) and `ioc users` (API users and tokens)."""

from __future__ import annotations

from typing import Any

import click

from api import security
from api.console.settings import ConsoleSettings
from api.settings import ApiSettings, ApiSetup
from ioc.settings import Settings


@click.command()
@click.option("--host", default=None, help="Listen address (default IOC_API_HOST).")
@click.option("--port", type=int, default=None, help="Listen port (default IOC_API_PORT).")
def command(host: str | None, port: int | None) -> None:
    """Serve the REST API (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn

    from api.app import create_app
    from ioc import migrate
    from storage.jobs import resolve
    from storage.settings import (
        AvailabilitySettings,
        ReportSettings,
        RetentionSettings,
        RollupSettings,
        StorageSetup,
    )

    settings = _setup()
    migrate.require_current(settings.core.database_url)
    storage = StorageSetup(
        RetentionSettings(), RollupSettings(), AvailabilitySettings(), ReportSettings()
    )
    app = create_app(settings, resolve(settings.core, storage))
    base = f"http://{host or settings.api.host}:{port or settings.api.port}"
    click.echo(f"API on {base}/docs, console on {base}/console/")
    uvicorn.run(
        app,
        host=host or settings.api.host,
        port=port or settings.api.port,
        **server_options(settings),
    )


def _setup() -> ApiSetup:
    """The settings of every command here (all of them, so a bad one stops any command)."""
    return ApiSetup(Settings(), ApiSettings(), ConsoleSettings())


def server_options(settings: ApiSetup) -> dict[str, Any]:
    """uvicorn options: forwarded headers only from IOC_API_TRUSTED_PROXIES (else none)."""
    proxies = settings.api.trusted_proxies
    return {
        "log_config": None,
        "proxy_headers": bool(proxies),
        # uvicorn reads FORWARDED_ALLOW_IPS from the environment otherwise: always set it.
        "forwarded_allow_ips": proxies or "127.0.0.1",
    }


@click.group()
def users() -> None:
    """API users and their bearer tokens."""


@users.command("create")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(security.ROLES), required=True, help="What the user may do."
)
@click.option(
    "--commune", "communes", multiple=True, help="Limit the user to this commune (repeatable)."
)
@click.option(
    "--expires-days",
    type=click.IntRange(min=0, max=3650),
    default=None,
    help="Token lifetime in days (default IOC_API_TOKEN_DAYS; 0 = never expires).",
)
@click.option(
    "--password/--no-password",
    "with_password",
    default=False,
    help="Also set a console password (asked twice, or read from stdin with --password-stdin).",
)
@click.option("--password-stdin", is_flag=True, help="Read the console password from stdin.")
def create(
    name: str,
    role: str,
    communes: tuple[str, ...],
    expires_days: int | None,
    with_password: bool,
    password_stdin: bool,
) -> None:
    """Create a user and print their token once (it is stored only as a digest)."""
    from ioc.db import connect

    settings = _setup()
    password = _read_password(password_stdin) if with_password or password_stdin else None
    for code in communes:
        if not (len(code) == 5 and code.isdigit()):
            raise click.BadParameter(
                f"{code!r} is not a 5-digit commune code", param_hint="--commune"
            )
    days = security.expiry_days(expires_days, settings.api.token_days)
    with connect(settings.core.database_url) as conn:
        token, expires = security.create_user(conn, name, role, list(communes), days)
        _audit(conn, "create", name, {"role": role, "communes": list(communes)})
        if password is not None:
            _store_password(conn, name, password)
    click.echo(f"user {name} ({role}) created; token expires {expires or 'never'}")
    if password is not None:
        click.echo("console password set")
    click.echo("token (shown once):")
    click.echo(token)


@users.command("list")
def list_() -> None:
    """List users with their role, communes, tokens and last use."""
    from ioc.db import connect

    settings = _setup()
    with connect(settings.core.database_url) as conn:
        rows = security.list_users(conn)
    click.echo(f"{'NAME':20} {'ROLE':11} {'COMMUNES':18} {'TOKENS':6} {'EXPIRES':26} STATUS")
    for u in rows:
        status = "revoked" if u.revoked_at else "active"
        communes = ",".join(u.communes) or "all"
        expires = u.expires_at.isoformat(timespec="seconds") if u.expires_at else "-"
        click.echo(
            f"{u.name:20} {u.role:11} {communes:18} {u.active_tokens:<6} {expires:26} {status}"
        )


@users.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke a user and every token of theirs."""
    from ioc.db import connect

    settings = _setup()
    with connect(settings.core.database_url) as conn:
        security.revoke_user(conn, name)
        _audit(conn, "revoke", name, {})
    click.echo(f"user {name} revoked")


@users.command("rotate")
@click.argument("name")
@click.option(
    "--expires-days",
    type=click.IntRange(min=0, max=3650),
    default=None,
    help="Lifetime of the new token in days (default IOC_API_TOKEN_DAYS; 0 = never).",
)
def rotate(name: str, expires_days: int | None) -> None:
    """Revoke a user's tokens and print a new one once."""
    from ioc.db import connect

    settings = _setup()
    days = security.expiry_days(expires_days, settings.api.token_days)
    with connect(settings.core.database_url) as conn:
        token, expires = security.rotate_token(conn, name, days)
        _audit(conn, "rotate", name, {})
    click.echo(f"new token for {name}; expires {expires or 'never'}; old tokens revoked")
    click.echo("token (shown once):")
    click.echo(token)


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (scripts).")
def passwd(name: str, password_stdin: bool) -> None:
    """Set the console login password of a user (asked twice unless --password-stdin)."""
    from ioc.db import connect

    settings = _setup()
    password = _read_password(password_stdin)
    with connect(settings.core.database_url) as conn:
        _store_password(conn, name, password)
    click.echo(f"console password of {name} set")


def _read_password(from_stdin: bool) -> str:
    import sys

    from api import passwords

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    try:
        passwords.check_strength(password)
    except passwords.PasswordError as exc:
        raise click.ClickException(str(exc)) from None
    return password


def _store_password(conn: object, name: str, password: str) -> None:
    import psycopg

    from api import passwords

    assert isinstance(conn, psycopg.Connection)
    try:
        passwords.set_password(conn, name, password)
    except passwords.PasswordError as exc:
        raise click.ClickException(str(exc)) from None
    _audit(conn, "passwd", name, {})


def _audit(conn: object, action: str, name: str, details: dict[str, object]) -> None:
    import getpass

    import psycopg

    from api import audit

    assert isinstance(conn, psycopg.Connection)
    audit.record(conn, f"cli:{getpass.getuser()}", action, "user", name, None, details)
    conn.commit()
