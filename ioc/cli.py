"""The ``ioc`` command line: one entry point, each area's commands loaded when used.

Commands are listed here by import path and imported only when invoked, so the shared core
never imports the areas it launches (imports flow core ← devices ← ingest | alerts | api).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click
import psycopg

from ioc import __version__
from ioc.errors import IocError

LAZY_COMMANDS = {
    "migrate": ("ioc.cli", "migrate", "Create or upgrade the database schema."),
    "devices": ("devices.cli", "group", "Registry: import communes, sites and devices."),
    "ingest": (
        "ingest.cli",
        "command",
        "Consume MQTT telemetry, events and status into PostgreSQL.",
    ),
    "alerts": ("alerts.cli", "command", "Run the alert engine (rules, lifecycle, notifications)."),
    "api": ("api.cli", "command", "Serve the REST API."),
    "users": ("api.cli", "users", "API users and tokens."),
    "simulate": ("simulators.cli", "simulate", "Simulate a fleet of commune devices over MQTT."),
    "drill": ("simulators.cli", "drill", "Run a fault scenario and check the expected outcome."),
    "maintain": ("storage.cli", "maintain", "Run rollups, retention and partition jobs."),
    "report": ("storage.cli", "report", "Availability reports for the province."),
    "collector": (
        "collector.cli",
        "group",
        "Edge collector: poll devices over ICMP, SNMP and HTTP; publish over MQTT.",
    ),
    "demo": ("demo.cli", "command", "Run the whole product in one process with a demo commune."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(LAZY_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in LAZY_COMMANDS:
            return None
        module_name, attr, help_text = LAZY_COMMANDS[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            return _unavailable(cmd_name, help_text, str(exc))
        command = getattr(module, attr, None)
        if not isinstance(command, click.Command):
            return _unavailable(cmd_name, help_text, f"{module_name}.{attr} is not a command")
        return command


def _unavailable(name: str, help_text: str, why: str) -> click.Command:
    def run() -> None:
        raise click.ClickException(f"`ioc {name}` is not available in this build: {why}")

    return click.Command(name, callback=run, help=f"{help_text} (unavailable: {why})")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ioc")
def cli() -> None:
    """Commune IOC monitoring backend. Settings come from IOC_* environment variables."""


@click.command()
@click.option(
    "--roles",
    is_flag=True,
    help="Also give the ioc_ingest / ioc_app / ioc_grafana roles LOGIN and the "
    "passwords from IOC_INGEST_DB_PASSWORD / IOC_APP_DB_PASSWORD / "
    "IOC_GRAFANA_DB_PASSWORD.",
)
@click.option("--check", is_flag=True, help="Only report pending migrations; exit 1 if any.")
def migrate(roles: bool, check: bool) -> None:
    """Create the database if needed and apply pending migrations (safe on every start)."""
    from devices.store import sync_catalogue
    from ioc import migrate as m
    from ioc.db import connect
    from ioc.settings import Settings

    settings = Settings()
    if check:
        todo = m.pending(settings.database_url)
        click.echo(f"{len(todo)} migration(s) pending" + (": " + ", ".join(todo) if todo else ""))
        sys.exit(1 if todo else 0)
    if m.create_database_if_missing(settings.database_url):
        click.echo("created the database")
    applied = m.apply(settings.database_url)
    with connect(settings.database_url) as conn:
        sync_catalogue(conn)
        created = m.ensure_partitions(
            conn, settings.raw_retention_days + 1, settings.partition_days_ahead
        )
        if roles:
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
        f"applied {len(applied)} migration(s); {created} partition(s) created; schema current"
    )


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: configure logging, run the command, print known errors plainly."""
    from ioc.logs import configure
    from ioc.settings import Settings

    try:
        configure(Settings().log_level)
    except Exception as exc:
        click.echo(f"error: invalid settings: {exc}", err=True)
        sys.exit(2)
    try:
        return cli.main(args=argv, prog_name="ioc", standalone_mode=True)
    except IocError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except psycopg.OperationalError as exc:
        from ioc.db import explain_connect_error

        click.echo(f"error: {explain_connect_error(Settings().database_url, exc)}", err=True)
        sys.exit(1)
