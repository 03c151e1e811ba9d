"""Settings of the REST API (``IOC_API_*``), read when ``ioc api`` starts.

``ioc api`` builds the core settings, these and the console's (``api.console.settings``) and
passes them down together as an ``ApiSetup``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from api.console.settings import ConsoleSettings
from ioc.settings import AreaSettings, Settings, env_config


class ApiSettings(AreaSettings):
    """Where the API listens, its limits and how long tokens live."""

    model_config = env_config("IOC_API_")

    db_pool_timeout_s: float = Field(
        10.0,
        gt=0,
        validation_alias="IOC_DB_POOL_TIMEOUT_S",
        description="Seconds a request waits for a free database connection (503).",
    )
    host: str = Field("127.0.0.1", description="Address `ioc api` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port `ioc api` listens on.")
    workers: int = Field(1, ge=1, description="uvicorn worker processes.")
    trusted_proxies: str | None = Field(
        None,
        description="Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed "
        "(uvicorn forwarded_allow_ips: comma-separated addresses or networks, e.g. "
        "'127.0.0.1' or '10.0.0.5,10.0.1.0/24'). Unset: headers are ignored and the client "
        "address is the TCP peer. Never '*' on a port clients reach directly.",
    )
    body_limit_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted (413 above)."
    )
    rate_limit: str = Field(
        "600/minute",
        description="Requests allowed per token (per client address when unauthenticated), "
        "in the `limits` notation, e.g. '600/minute' or '20/second;600/minute'.",
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="Rate-limit counter storage URI of the `limits` library (memory:// per "
        "process; redis://host:6379 to share counters between API instances).",
    )
    page_default: int = Field(50, ge=1, description="Page size when `limit` is not given.")
    page_max: int = Field(500, ge=1, description="Largest page size accepted for `limit`.")
    telemetry_max_days: int = Field(
        400, ge=1, description="Longest time range of a telemetry query, in days."
    )
    telemetry_max_points: int = Field(
        2000, ge=10, description="Most points per metric a telemetry query may return."
    )
    raw_max_step_s: int = Field(
        300,
        ge=1,
        description="Steps shorter than this read raw telemetry; longer ones read the 5-minute "
        "or hourly rollups when they exist.",
    )
    token_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Default lifetime of a new API token in days (`--expires-days`).",
    )
    timezone: str = Field(
        "Asia/Ho_Chi_Minh", description="Time zone of 'today' in /overview availability."
    )
    readyz_timeout_s: float = Field(
        2.0, gt=0, description="Timeout of each /readyz check (database, broker)."
    )
    map_mbtiles: Path | None = Field(
        None,
        description="An MBTiles file (e.g. the province cut from OpenStreetMap) served at "
        "/tiles/{z}/{x}/{y}.png for the console map and Grafana's geomap basemap.",
    )


@dataclass(frozen=True)
class ApiSetup:
    """Everything ``ioc api`` reads from the environment: database and broker, API, console."""

    core: Settings
    api: ApiSettings
    console: ConsoleSettings
