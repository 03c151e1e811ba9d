"""Build the bot receiver from ``IOC_TELEGRAM_*`` settings (None when there is no bot)."""

from __future__ import annotations

from collections.abc import Callable

from psycopg_pool import ConnectionPool

from alerts.notify.settings import NotifySettings
from alerts.notify.templates import local_zone
from alerts.telegram.botapi import BotApi
from alerts.telegram.callback import key_for
from alerts.telegram.handler import BotHandler
from alerts.telegram.receiver import TelegramReceiver
from alerts.telegram.webhook import WebhookReceiver


def build_receiver(
    pool: ConnectionPool,
    is_leader: Callable[[], bool],
    settings: NotifySettings,
) -> TelegramReceiver | WebhookReceiver | None:
    """The receiver of IOC_TELEGRAM_BOT_TOKEN's bot (webhook or long polling), or None."""
    if settings.telegram_bot_token is None or not settings.telegram_receive:
        return None
    token = settings.telegram_bot_token.get_secret_value()
    api = BotApi(
        settings.telegram_api_url,
        token,
        timeout_s=10.0,
        max_bytes=settings.telegram_answer_max_bytes,
    )
    handler = BotHandler(
        pool,
        api,
        key_for(token),
        local_zone(settings.timezone),
        link_limit=settings.telegram_link_rate_limit,
    )
    if settings.telegram_webhook_url:
        return WebhookReceiver(
            api,
            handler,
            is_leader,
            settings.telegram_webhook_url,
            settings.telegram_webhook_listen,
            max_connections=settings.telegram_webhook_max_connections,
            deadline_s=settings.telegram_webhook_deadline_s,
        )
    return TelegramReceiver(
        pool, api, handler, is_leader, poll_timeout_s=settings.telegram_poll_timeout_s
    )
