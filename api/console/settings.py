"""Settings of the web console (``IOC_CONSOLE_*``), read when ``ioc api`` starts."""

from __future__ import annotations

from pydantic import Field

from ioc.settings import AreaSettings, env_config


class ConsoleSettings(AreaSettings):
    """Console sessions, login throttling, pages and map tiles, Telegram linking."""

    model_config = env_config("IOC_CONSOLE_")

    cookie_secure: bool = Field(
        True,
        description="Console session cookie only over HTTPS (Secure). Set false only for "
        "plain http on localhost or a trusted LAN.",
    )
    session_hours: float = Field(
        12, gt=0, description="Console sessions end this long after login (log in again)."
    )
    login_rate_limit: str = Field(
        "10/minute;50/hour",
        description="Failed logins allowed per user name from one client address (`limits` "
        "notation); beyond them that name waits at that address (429).",
    )
    login_address_rate_limit: str = Field(
        "30/minute;200/hour",
        description="Failed logins allowed per client address over all user names; beyond "
        "them the address waits, except for users who logged in from it before.",
    )
    login_user_rate_limit: str = Field(
        "30/minute;300/hour",
        description="Failed logins allowed per user name over all addresses; beyond them the "
        "name waits at addresses it never logged in from (never at a known one).",
    )
    known_address_days: int = Field(
        90,
        ge=1,
        description="An address a user logged in from stays 'known' (not throttled by "
        "failures elsewhere) this many days after their last login from it.",
    )
    refresh_s: int = Field(
        30, ge=0, description="Seconds between automatic reloads of the incidents page (0 = off)."
    )
    page_size: int = Field(
        50, ge=1, le=500, description="Root incidents per page of the console's incident list."
    )
    map_tile_url: str | None = Field(
        None,
        description="Map tiles of the commune page from a tile server of yours ({z}/{x}/{y}); "
        "unset: the MBTiles file of IOC_API_MAP_MBTILES, else a plain schematic (nothing is "
        "ever loaded from the internet by default).",
    )
    # The console's side of Telegram linking keeps the bot's variable names.
    telegram_link_code_minutes: int = Field(
        15,
        ge=1,
        validation_alias="IOC_TELEGRAM_LINK_CODE_MINUTES",
        description="Lifetime of the one-time code that links a Telegram account.",
    )
    telegram_bot_username: str | None = Field(
        None,
        validation_alias="IOC_TELEGRAM_BOT_USERNAME",
        description="The bot's @username, shown with the link code in the console.",
    )
