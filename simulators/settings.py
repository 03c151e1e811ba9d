"""Simulator settings from ``IOC_SIM_*`` environment variables (broker/database from ``IOC_``)."""

from __future__ import annotations

from pydantic import Field

from ioc.settings import AreaSettings, env_config


class SimulatorSettings(AreaSettings):
    """Tuning of ``ioc simulate`` and ``ioc drill``."""

    model_config = env_config("IOC_SIM_")

    progress_s: float = Field(10.0, gt=0, description="Seconds between progress lines.")
    keepalive_s: int = Field(30, ge=5, description="MQTT keep-alive of simulated devices.")
    max_inflight: int = Field(
        100, ge=1, description="Unacknowledged QoS 1 publishes allowed per connection."
    )
    shared_above: int = Field(
        500,
        ge=1,
        description="Fleets larger than this share one connection per site gateway "
        "unless --connections says otherwise.",
    )
    drill_poll_s: float = Field(
        0.5, gt=0, description="How often `ioc drill` polls the database for the outcome."
    )
    drill_grace_s: float = Field(
        120.0,
        ge=0,
        description="Wall seconds `ioc drill` keeps waiting after the timeline ends for "
        "outcomes still undecided (grouped notifications may wait for group_interval).",
    )
