"""Zalo Official Account settings (``IOC_ZALO_*``): the app, its OA and the webhook."""

from __future__ import annotations

from pydantic import Field, SecretStr

from ioc.settings import AreaSettings, env_config


class ZaloSettings(AreaSettings):
    """The Zalo app and OA that send alerts and receive button presses."""

    model_config = env_config("IOC_ZALO_")

    app_id: str | None = Field(
        None, description="Zalo app id (Zalo for Developers); enables the Zalo channel."
    )
    app_secret: SecretStr | None = Field(
        None, description="The Zalo app's secret key (sent as `secret_key` to refresh tokens)."
    )
    oa_secret: SecretStr | None = Field(
        None,
        description="The OA secret key of the app's OA link: verifies X-ZEvent-Signature on "
        "webhook events and keys the buttons' MACs.",
    )
    refresh_token: SecretStr | None = Field(
        None,
        description="First OA refresh token, used only while the database holds none; later "
        "ones rotate in ioc_auth.zalo_tokens.",
    )
    api_url: str = Field(
        "https://openapi.zalo.me", description="Zalo OA Open API base URL (tests: loopback)."
    )
    oauth_url: str = Field(
        "https://oauth.zaloapp.com", description="Zalo OAuth base URL (token refresh)."
    )
    zns_url: str = Field(
        "https://business.openapi.zalo.me",
        description="Zalo template notification (ZNS) API base URL.",
    )
    webhook_listen: str | None = Field(
        None,
        pattern=r"^[^:\s]+:[0-9]{1,5}$",
        description="host:port where `ioc alerts` accepts Zalo webhook events (behind your "
        "HTTPS reverse proxy); none: no two-way Zalo.",
    )
    webhook_path: str = Field("/hooks/zalo", description="Path of the Zalo webhook.")
    window_hours: float = Field(
        48, gt=0, description="Free replies reach a user this long after their last message."
    )
    event_max_age_s: float = Field(
        300, gt=0, description="Webhook events whose timestamp is further off are refused."
    )
    token_margin_s: float = Field(
        3600, ge=0, description="Refresh the OA access token this long before it expires."
    )
    inbox_interval_s: float = Field(
        0.5, gt=0, description="How often the webhook worker looks for queued events."
    )
