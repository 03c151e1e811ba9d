"""``ioc alerts``: run the alert engine (leader-elected), or check a rules file."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

import click

log = logging.getLogger(__name__)


@click.command()
@click.option(
    "--check-rules",
    "check_rules",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Validate a rules file, print its rules and exit (no database needed).",
)
@click.option(
    "--once",
    is_flag=True,
    help="Evaluate once, print what would change and exit; writes nothing (see --write).",
)
@click.option(
    "--write",
    is_flag=True,
    help="With --once: write the evaluation, as the leader (refused while ioc alerts runs).",
)
def command(check_rules: Path | None, once: bool, write: bool) -> None:
    """Evaluate alert rules every second and send notifications.

    Several processes may run: one is active (PostgreSQL advisory lock), the others stand by
    and take over within seconds. Settings: IOC_RULES, IOC_ALERTS_* (see alerts/settings.py).
    """
    from alerts.rules import load_rules
    from alerts.settings import AlertSettings
    from ioc.settings import Settings

    settings = AlertSettings()
    if check_rules is not None:
        rules = load_rules(check_rules)
        for rule in rules:
            click.echo(f"{rule.name:28} {rule.kind:10} {rule.severity:9} {','.join(rule.types)}")
        click.echo(f"{len(rules)} rule(s) OK")
        return

    from alerts.engine import AlertEngine
    from alerts.notify.channels.smtp_settings import SmtpSettings
    from alerts.notify.settings import NotifySettings, NotifySetup
    from alerts.telegram.settings import TelegramSettings
    from alerts.zalo.settings import ZaloSettings
    from ioc.db import open_pool
    from ioc.migrate import require_current

    if write and not once:
        raise click.UsageError("--write goes with --once")
    core = Settings()
    require_current(core.database_url)
    pool = open_pool(core.database_url, max_size=core.db_pool_size, name="ioc-alerts")
    try:
        notify = (
            None
            if once
            else NotifySetup(NotifySettings(), SmtpSettings(), TelegramSettings(), ZaloSettings())
        )
        engine = AlertEngine(settings, pool, notify=notify, mqtt_url=core.mqtt_url)
        if once:
            _once(engine, write)
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        engine.start()
        click.echo(f"ioc alerts running with {len(engine.rules)} rules; Ctrl-C to stop")
        stop.wait()
        engine.stop()
    finally:
        pool.close()


def _once(engine: Any, write: bool) -> None:
    from alerts.once import LeaderRunning, dry_run, write_once

    if write:
        try:
            result = write_once(engine)
        except LeaderRunning as exc:
            raise click.ClickException(str(exc)) from None
        verb = "written"
    else:
        preview = dry_run(engine)
        for line in preview.lines:
            click.echo(line)
        result = preview.result
        verb = "dry run, nothing written (--write to write)"
    t = result.transitions
    click.echo(
        f"{len(t.pending)} pending, {len(t.firing)} firing, {len(t.resolved)} resolved, "
        f"{len(result.reachability.unreachable)} unreachable ({verb})"
    )
