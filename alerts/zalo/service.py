"""Build the Zalo webhook receiver from ``IOC_ZALO_*`` settings (None without it)."""

from __future__ import annotations

from datetime import timedelta

from psycopg_pool import ConnectionPool

from alerts.chatops.signed import derive_key
from alerts.notify.settings import NotifySettings
from alerts.notify.templates import local_zone
from alerts.zalo.api import Urls, ZaloApi
from alerts.zalo.handler import EventHandler
from alerts.zalo.tokens import TokenStore
from alerts.zalo.webhook import ZaloWebhook


def build_tokens(pool: ConnectionPool, s: NotifySettings, timeout_s: float = 10.0) -> TokenStore:
    """The OA's token store (and its API client) from ``IOC_ZALO_*``; checked by the caller."""
    assert s.zalo_app_id and s.zalo_app_secret is not None
    api = ZaloApi(Urls(s.zalo_api_url, s.zalo_oauth_url, s.zalo_zns_url), timeout_s)
    seed = s.zalo_refresh_token.get_secret_value() if s.zalo_refresh_token else None
    secret = s.zalo_app_secret.get_secret_value()
    margin = timedelta(seconds=s.zalo_token_margin_s)
    return TokenStore(pool, api, s.zalo_app_id, secret, seed, margin)


def build_webhook(pool: ConnectionPool, settings: NotifySettings) -> ZaloWebhook | None:
    """The webhook of IOC_ZALO_APP_ID's OA, when IOC_ZALO_WEBHOOK_LISTEN is set."""
    s = settings
    if not (s.zalo_webhook_listen and s.zalo_app_id and s.zalo_oa_secret and s.zalo_app_secret):
        return None
    oa_secret = s.zalo_oa_secret.get_secret_value()
    handler = EventHandler(derive_key(oa_secret, "zalo-button"), local_zone(s.timezone))
    return ZaloWebhook(
        pool,
        build_tokens(pool, s),
        handler,
        s.zalo_app_id,
        oa_secret,
        s.zalo_webhook_listen,
        s.zalo_webhook_path,
        s.zalo_event_max_age_s,
        s.zalo_inbox_interval_s,
    )
