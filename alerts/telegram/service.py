"""Build the bot receiver from ``IOC_TELEGRAM_*`` settings (None when there is no bot)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

from psycopg_pool import ConnectionPool

from alerts.telegram.botapi import BotApi
from alerts.telegram.callback import key_for
from alerts.telegram.handler import BotHandler
from alerts.telegram.receiver import TelegramReceiver
from alerts.telegram.settings import TelegramSettings
from alerts.telegram.webhook import WebhookReceiver


def build_receiver(
    pool: ConnectionPool,
    is_leader: Callable[[], bool],
    settings: TelegramSettings,
    zone: tzinfo,
) -> TelegramReceiver | WebhookReceiver | None:
    """The receiver of IOC_TELEGRAM_BOT_TOKEN's bot (webhook or long polling), or None."""
    if settings.bot_token is None or not settings.receive:
        return None
    token = settings.bot_token.get_secret_value()
    api = BotApi(
        settings.api_url,
        token,
        timeout_s=10.0,
        max_bytes=settings.answer_max_bytes,
    )
    handler = BotHandler(pool, api, key_for(token), zone, link_limit=settings.link_rate_limit)
    if settings.webhook_url:
        return WebhookReceiver(
            api,
            handler,
            is_leader,
            settings.webhook_url,
            settings.webhook_listen,
            max_connections=settings.webhook_max_connections,
            deadline_s=settings.webhook_deadline_s,
        )
    return TelegramReceiver(pool, api, handler, is_leader, poll_timeout_s=settings.poll_timeout_s)
