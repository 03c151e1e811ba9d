"""``ioc collector run``: poll the devices of one collector and publish them over MQTT."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path
from typing import Any

import click

from devices.registry import RegistryError

log = logging.getLogger(__name__)


@click.group("collector")
def group() -> None:
    """Edge collector: monitor devices that do not speak MQTT (ICMP, SNMP, HTTP JSON)."""


@group.command("run")
@click.option(
    "--inventory",
    "inventory_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Inventory file (registry YAML with address/checks/collector per device).",
)
@click.option("--api", "api_url", help="Fetch the inventory from this IOC API (base URL).")
@click.option(
    "--token", envvar="IOC_COLLECTOR_TOKEN", help="Collector API token (or IOC_COLLECTOR_TOKEN)."
)
@click.option("--id", "collector_id", help="This collector's device id (IOC_COLLECTOR_ID).")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Outbox and inventory cache directory (IOC_COLLECTOR_STATE_DIR).",
)
@click.option(
    "--secrets",
    "secrets_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="NAME=value secrets file (IOC_COLLECTOR_SECRETS_FILE).",
)
@click.option("--webhook-port", type=int, help="Serve vendor webhooks on this port.")
def run(
    inventory_file: Path | None,
    api_url: str | None,
    token: str | None,
    collector_id: str | None,
    state_dir: Path | None,
    secrets_file: Path | None,
    webhook_port: int | None,
) -> None:
    """Run the collector until SIGTERM; readings are buffered on disk while the broker is away."""
    from collector.fetch import inventory_from_api
    from collector.inventory import load_inventory
    from collector.secrets import SecretStore
    from collector.service import Collector, identify
    from collector.settings import CollectorSettings
    from ioc.mqttclient import MqttTarget
    from ioc.settings import Settings

    settings = Settings()
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "id": collector_id,
            "state_dir": state_dir,
            "secrets_file": secrets_file,
            "webhook_port": webhook_port,
        }.items()
        if v is not None
    }
    csettings = CollectorSettings(**overrides)
    if (inventory_file is None) == (api_url is None):
        raise click.UsageError("give exactly one of --inventory FILE or --api URL --token T")
    try:
        if inventory_file is not None:
            inventory = load_inventory(inventory_file)
        else:
            if not token:
                raise click.UsageError("--api needs --token (a collector token)")
            inventory = inventory_from_api(api_url or "", token, csettings)
    except RegistryError as exc:
        raise click.ClickException("invalid inventory:\n" + "\n".join(exc.errors)) from None
    me = identify(inventory, csettings.id)
    try:
        secrets = SecretStore.load(csettings.secrets_file)
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read the secrets file: {exc}") from None
    try:
        collector = Collector(
            inventory, me, csettings, MqttTarget(settings.mqtt_url, settings.mqtt_protocol), secrets
        )
    except (OSError, sqlite3.Error) as exc:  # the state directory cannot be written
        raise click.ClickException(f"cannot open the outbox: {exc} (set --state-dir)") from None
    asyncio.run(collector.run())
