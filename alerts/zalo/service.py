"""Build the Zalo webhook receiver from ``IOC_ZALO_*`` settings (None without it)."""

from __future__ import annotations

from datetime import timedelta, tzinfo

from psycopg_pool import ConnectionPool

from alerts.chatops.signed import derive_key
from alerts.zalo.api import Urls, ZaloApi
from alerts.zalo.handler import EventHandler
from alerts.zalo.settings import ZaloSettings
from alerts.zalo.tokens import TokenStore
from alerts.zalo.webhook import ZaloWebhook


def build_tokens(pool: ConnectionPool, s: ZaloSettings, timeout_s: float = 10.0) -> TokenStore:
    """The OA's token store (and its API client) from ``IOC_ZALO_*``; checked by the caller."""
    assert s.app_id and s.app_secret is not None
    api = ZaloApi(Urls(s.api_url, s.oauth_url, s.zns_url), timeout_s)
    seed = s.refresh_token.get_secret_value() if s.refresh_token else None
    secret = s.app_secret.get_secret_value()
    margin = timedelta(seconds=s.token_margin_s)
    return TokenStore(pool, api, s.app_id, secret, seed, margin)


def build_webhook(pool: ConnectionPool, s: ZaloSettings, zone: tzinfo) -> ZaloWebhook | None:
    """The webhook of IOC_ZALO_APP_ID's OA, when IOC_ZALO_WEBHOOK_LISTEN is set."""
    if not (s.webhook_listen and s.app_id and s.oa_secret and s.app_secret):
        return None
    oa_secret = s.oa_secret.get_secret_value()
    handler = EventHandler(derive_key(oa_secret, "zalo-button"), zone)
    return ZaloWebhook(
        pool,
        build_tokens(pool, s),
        handler,
        s.app_id,
        oa_secret,
        s.webhook_listen,
        s.webhook_path,
        s.event_max_age_s,
        s.inbox_interval_s,
    )
