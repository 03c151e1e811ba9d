"""``ioc simulate`` and ``ioc drill``."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

import click

from devices.registry import Registry, load_file
from ioc.durations import parse_duration
from ioc.mqttclient import MqttTarget
from ioc.settings import Settings
from simulators.clock import SimClock, format_ts
from simulators.settings import SimulatorSettings

log = logging.getLogger(__name__)
DEMO_REGISTRY = Path(__file__).resolve().parents[1] / "devices" / "data" / "demo_commune.yaml"


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def load_registry(path: Path | None, communes: int | None) -> tuple[Registry, str]:
    """The registry to simulate: generated communes, a file, or the demo commune."""
    if communes:
        from simulators.generate import generate

        return generate(communes), f"{communes} generated commune(s)"
    source = path or DEMO_REGISTRY
    return load_file(source), str(source)


def register_registry(database_url: str, registry: Registry, source: str) -> str:
    """Import the simulated registry so ingest accepts its devices."""
    from devices.store import import_registry
    from ioc.db import connect

    with connect(database_url) as conn:
        result = import_registry(conn, registry, source)
        conn.commit()
    return result.summary()


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@click.command()
@click.option(
    "--registry",
    "registry_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Registry file to simulate (default: the demo commune).",
)
@click.option(
    "--communes",
    type=click.IntRange(1, 4000),
    help="Simulate N generated communes (~100 devices each) instead.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0.001),
    default=1.0,
    show_default=True,
    help="Simulated seconds per wall second.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same run)."
)
@click.option("--duration", callback=_duration, help="Stop after this wall time (30s, 10m, 2h).")
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    help="Load mode: publish telemetry at R msg/s (QoS 1).",
)
@click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Apply a scenario's fault timeline (no checks; see `ioc drill`).",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiplier of random fault rates (0 = only scenario/injected faults).",
)
@click.option(
    "--connections",
    type=click.Choice(["auto", "device", "site"]),
    default="auto",
    show_default=True,
    help="One connection per device, or shared per site gateway.",
)
@click.option(
    "--register/--no-register",
    default=True,
    show_default=True,
    help="Import the simulated registry into IOC_DATABASE_URL first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final counters as JSON.")
def simulate(
    registry_path: Path | None, communes: int | None, speed: float, seed: int,
    duration: float | None, rate: float | None, scenario_path: Path | None, fault_rate: float,
    connections: str, register: bool, as_json: bool,
) -> None:  # fmt: skip
    """Simulate a fleet of commune devices over MQTT (IOC_MQTT_URL)."""
    from simulators.fleet import Fleet
    from simulators.world import World

    settings, sim = Settings(), SimulatorSettings()
    registry, source = load_registry(registry_path, communes)
    scenario = None
    if scenario_path is not None:
        from simulators.scenario import load_scenario

        scenario = load_scenario(scenario_path)
    if register:
        click.echo(
            f"registered {source}: " + register_registry(settings.database_url, registry, source)
        )
    if speed > 1 and duration is None:
        click.echo(
            "warning: --speed without --duration runs the simulated clock ahead of the wall "
            "clock; ingest quarantines timestamps too far in the future",
            err=True,
        )
    clock = SimClock.ending_now(speed, duration)
    world = World(registry, seed, clock.start, fault_rate=fault_rate)
    if scenario is not None:
        for fault in scenario.faults:
            world.inject(fault.fault, fault.target, fault.seconds, clock.start + fault.at_s,
                         fault.params, source="scenario")  # fmt: skip
    mode = connections if connections != "auto" else (
        "site" if len(world.devices) > sim.shared_above else "device")  # fmt: skip
    fleet = Fleet(world, clock, MqttTarget(settings.mqtt_url, settings.mqtt_protocol), mode,  # type: ignore[arg-type]
                  sim.keepalive_s, sim.max_inflight)  # fmt: skip
    click.echo(
        f"simulating {len(world.devices)} devices ({mode} connections) from {source}, "
        f"seed {seed}, speed {speed:g}×, sim start {format_ts(clock.start)}"
    )
    stop = _stop_on_signals()
    progress = fleet.run(duration, stop, lambda p: click.echo(p.line(), err=True),
                         sim.progress_s, rate)  # fmt: skip
    left = fleet.drain()
    fleet.close(will=True)
    faults = [f.describe(clock.start) for f in world.fault_log]
    click.echo(progress.line())
    click.echo(f"faults ({len(faults)}): " + ("; ".join(faults[:20]) or "none"))
    if as_json:
        summary = {"devices": progress.devices, "sent": progress.sent, "acked": progress.acked,
                   "unacked": left, "rate": progress.rate, "faults": faults}  # fmt: skip
        click.echo(json.dumps(summary, ensure_ascii=False))
    if left:
        sys.exit(1)


@click.command()
@click.argument(
    "scenario_path", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--speed", type=click.FloatRange(min=0.001), help="Override the scenario's speed.")
@click.option(
    "--mode",
    type=click.Choice(["auto", "alerts", "data"]),
    default="auto",
    show_default=True,
    help="What to check: incidents (alert engine) or fault evidence in the data.",
)
@click.option(
    "--register/--no-register",
    default=True,
    show_default=True,
    help="Import the scenario's registry into IOC_DATABASE_URL first.",
)
@click.option("--check-only", is_flag=True, help="Only validate the scenario file.")
def drill(scenario_path: Path, speed: float | None, mode: str, register: bool, check_only: bool) -> None:  # fmt: skip
    """Run a fault scenario against the running stack and check the expected outcome."""
    from simulators.drill import run_drill, scenario_registry
    from simulators.fleet import Fleet
    from simulators.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    registry_path = scenario_registry(scenario, scenario_path, DEMO_REGISTRY)
    registry, source = load_registry(registry_path, None)
    if check_only:
        from simulators.world import World

        world = World(registry, scenario.seed, 0.0, random_faults=False)
        try:
            for step in scenario.faults:
                world.inject(step.fault, step.target, step.seconds, step.at_s, step.params)
        except ValueError as exc:
            raise click.ClickException(f"{scenario_path}: {exc}") from exc
        click.echo(f"{scenario_path}: ok ({len(scenario.faults)} fault(s))")
        return
    settings, sim = Settings(), SimulatorSettings()
    if register:
        click.echo(
            f"registered {source}: " + register_registry(settings.database_url, registry, source)
        )
    target = MqttTarget(settings.mqtt_url, settings.mqtt_protocol)
    eff_speed = speed or scenario.speed
    click.echo(
        f"drill {scenario.name!r}: {len(scenario.faults)} fault(s) over "
        f"{scenario.duration_s / 60:g} simulated minutes at {eff_speed:g}× "
        f"(~{scenario.duration_s / eff_speed:.0f} s)"
    )
    try:
        result = run_drill(
            scenario, registry, settings.database_url,
            lambda world, clock: Fleet(world, clock, target, "device", sim.keepalive_s, sim.max_inflight),
            mode, speed, sim.drill_poll_s, sim.drill_grace_s,
        )  # fmt: skip
    except ValueError as exc:
        raise click.ClickException(f"{scenario_path}: {exc}") from exc
    click.echo(result.report(scenario.name))
    sys.exit(0 if result.ok else 1)
