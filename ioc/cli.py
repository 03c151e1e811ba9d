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
    "migrate": ("devices.cli", "migrate_command", "Create or upgrade the database schema."),
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
    "db": ("ioc.ha.cli", "group", "Local PostgreSQL HA cluster (Patroni + etcd) for trials/tests."),
    "maintain": ("storage.cli", "maintain", "Run rollups, retention and partition jobs."),
    "report": ("storage.cli", "report", "Availability reports for the province."),
    "bus": ("ioc.bus.cli", "group", "The clustered message bus: `ioc bus local`."),
    "collector": (
        "collector.cli",
        "group",
        "Edge collector: poll devices over ICMP, SNMP and HTTP; publish over MQTT.",
    ),
    "certs": ("ioc.certs", "group", "TLS certificates of the web proxy and the MQTT broker."),
    "backup": ("storage.backup.cli", "group", "Base backups, WAL archive and restore checks."),
    "demo": ("demo.cli", "command", "Run the whole product in one process with a demo commune."),
}


class Reported(click.ClickException):
    """An IocError as the command line shows it: ``error: <message>``, exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; an IocError of any package is reported here, in one place."""
        try:
            return super().invoke(ctx)
        except IocError as exc:
            raise Reported(str(exc)) from exc

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


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: configure logging, run the command, print known errors plainly."""
    from pydantic import ValidationError

    from ioc.logs import configure
    from ioc.settings import Settings, explain_settings_error

    try:
        configure(Settings().log_level)
    except ValidationError as exc:
        click.echo(f"error: {explain_settings_error(exc)}", err=True)
        sys.exit(2)
    except Exception as exc:
        click.echo(f"error: invalid settings: {exc}", err=True)
        sys.exit(2)
    try:
        return cli.main(args=argv, prog_name="ioc", standalone_mode=True)
    except ValidationError as exc:
        # A settings class of one command (IOC_API_PORT=abc, ...): one line, no traceback.
        click.echo(f"error: {explain_settings_error(exc)}", err=True)
        sys.exit(2)
    except psycopg.OperationalError as exc:
        from ioc.db import explain_connect_error

        click.echo(f"error: {explain_connect_error(Settings().database_url, exc)}", err=True)
        sys.exit(1)
