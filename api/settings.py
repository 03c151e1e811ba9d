"""Settings of the REST API (``IOC_API_*`` and friends), read when ``ioc api`` starts."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ioc.settings import ENV_CONFIG, Settings


class ApiSettings(Settings):
    """Where the API listens, its limits and how long tokens live."""

    model_config = ENV_CONFIG

    db_pool_timeout_s: float = Field(
        10.0, gt=0, description="Seconds a request waits for a free database connection (503)."
    )
    api_host: str = Field("127.0.0.1", description="Address `ioc api` listens on.")
    api_port: int = Field(8000, ge=1, le=65535, description="TCP port `ioc api` listens on.")
    api_workers: int = Field(1, ge=1, description="uvicorn worker processes.")
    api_trusted_proxies: str | None = Field(
        None,
        description="Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed "
        "(uvicorn forwarded_allow_ips: comma-separated addresses or networks, e.g. "
        "'127.0.0.1' or '10.0.0.5,10.0.1.0/24'). Unset: headers are ignored and the client "
        "address is the TCP peer. Never '*' on a port clients reach directly.",
    )
    api_body_limit_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body accepted (413 above)."
    )
    api_rate_limit: str = Field(
        "600/minute",
        description="Requests allowed per token (per client address when unauthenticated), "
        "in the `limits` notation, e.g. '600/minute' or '20/second;600/minute'.",
    )
    api_rate_limit_storage: str = Field(
        "memory://",
        description="Rate-limit counter storage URI of the `limits` library (memory:// per "
        "process; redis://host:6379 to share counters between API instances).",
    )
    api_page_default: int = Field(50, ge=1, description="Page size when `limit` is not given.")
    api_page_max: int = Field(500, ge=1, description="Largest page size accepted for `limit`.")
    api_telemetry_max_days: int = Field(
        400, ge=1, description="Longest time range of a telemetry query, in days."
    )
    api_telemetry_max_points: int = Field(
        2000, ge=10, description="Most points per metric a telemetry query may return."
    )
    api_raw_max_step_s: int = Field(
        300,
        ge=1,
        description="Steps shorter than this read raw telemetry; longer ones read the 5-minute "
        "or hourly rollups when they exist.",
    )
    api_token_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Default lifetime of a new API token in days (`--expires-days`).",
    )
    api_timezone: str = Field(
        "Asia/Ho_Chi_Minh", description="Time zone of 'today' in /overview availability."
    )
    api_readyz_timeout_s: float = Field(
        2.0, gt=0, description="Timeout of each /readyz check (database, broker)."
    )
    console_cookie_secure: bool = Field(
        True,
        description="Console session cookie only over HTTPS (Secure). Set false only for "
        "plain http on localhost or a trusted LAN.",
    )
    console_session_hours: float = Field(
        12, gt=0, description="Console sessions end this long after login (log in again)."
    )
    console_login_rate_limit: str = Field(
        "10/minute;50/hour",
        description="Failed logins allowed per user name from one client address (`limits` "
        "notation); beyond them that name waits at that address (429).",
    )
    console_login_address_rate_limit: str = Field(
        "30/minute;200/hour",
        description="Failed logins allowed per client address over all user names; beyond "
        "them the address waits, except for users who logged in from it before.",
    )
    console_login_user_rate_limit: str = Field(
        "30/minute;300/hour",
        description="Failed logins allowed per user name over all addresses; beyond them the "
        "name waits at addresses it never logged in from (never at a known one).",
    )
    console_known_address_days: int = Field(
        90,
        ge=1,
        description="An address a user logged in from stays 'known' (not throttled by "
        "failures elsewhere) this many days after their last login from it.",
    )
    console_refresh_s: int = Field(
        30, ge=0, description="Seconds between automatic reloads of the incidents page (0 = off)."
    )
    console_page_size: int = Field(
        50, ge=1, le=500, description="Root incidents per page of the console's incident list."
    )
    console_map_tile_url: str | None = Field(
        None,
        description="Map tiles of the commune page from a tile server of yours ({z}/{x}/{y}); "
        "unset: the MBTiles file of IOC_API_MAP_MBTILES, else a plain schematic (nothing is "
        "ever loaded from the internet by default).",
    )
    api_map_mbtiles: Path | None = Field(
        None,
        description="An MBTiles file (e.g. the province cut from OpenStreetMap) served at "
        "/tiles/{z}/{x}/{y}.png for the console map and Grafana's geomap basemap.",
    )
    telegram_link_code_minutes: int = Field(
        15, ge=1, description="Lifetime of the one-time code that links a Telegram account."
    )
    telegram_bot_username: str | None = Field(
        None, description="The bot's @username, shown with the link code in the console."
    )
