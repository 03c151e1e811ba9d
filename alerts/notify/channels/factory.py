"""Build a channel from a receiver's config and the ``IOC_*`` settings."""

from __future__ import annotations

import os
from datetime import timedelta

from psycopg_pool import ConnectionPool

from alerts.chatops.signed import derive_key
from alerts.notify.channels.base import Channel
from alerts.notify.channels.console import ConsoleChannel
from alerts.notify.channels.smtp import EmailChannel, SmtpServer
from alerts.notify.channels.telegram import TelegramChannel
from alerts.notify.channels.webhook import WebhookChannel
from alerts.notify.channels.zalo import ZaloChannel
from alerts.notify.config import NotifyConfig, Receiver
from alerts.notify.settings import NotifySettings
from alerts.zalo.service import build_tokens
from ioc.errors import ConfigError


def _env(receiver: str, field: str, name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"receiver {receiver!r}: {field} names ${name}, which is not set")
    return value


def build_channel(
    receiver: Receiver,
    settings: NotifySettings,
    pool: ConnectionPool | None = None,
    config: NotifyConfig | None = None,
) -> Channel:
    """The channel for ``receiver``; a missing secret is a ``ConfigError`` naming the field."""
    if receiver.webhook is not None:
        return WebhookChannel(receiver.webhook)
    if receiver.console is not None:
        return ConsoleChannel(receiver.console)
    if receiver.telegram is not None:
        cfg = receiver.telegram
        if cfg.bot_token_env:
            token = _env(receiver.name, "telegram.bot_token_env", cfg.bot_token_env)
        elif settings.telegram_bot_token is not None:
            token = settings.telegram_bot_token.get_secret_value()
        else:
            raise ConfigError(
                f"receiver {receiver.name!r}: telegram needs bot_token_env or IOC_TELEGRAM_BOT_TOKEN"
            )
        return TelegramChannel(cfg, token, settings.telegram_api_url)
    if receiver.email is not None:
        cfg_e = receiver.email
        if cfg_e.password_env:
            password: str | None = _env(receiver.name, "email.password_env", cfg_e.password_env)
        elif settings.smtp_password is not None:
            password = settings.smtp_password.get_secret_value()
        else:
            password = None
        server = SmtpServer(
            host=cfg_e.host or settings.smtp_host,
            port=cfg_e.port or settings.smtp_port,
            starttls=settings.smtp_starttls if cfg_e.starttls is None else cfg_e.starttls,
            user=cfg_e.user or settings.smtp_user,
            password=password,
            timeout=cfg_e.timeout.total_seconds(),
        )
        return EmailChannel(server, cfg_e.sender or settings.smtp_from, cfg_e.to)
    if receiver.zalo is not None:
        if pool is None:
            raise ConfigError(f"receiver {receiver.name!r}: zalo keeps its tokens in the database")
        return build_zalo(receiver, settings, pool, config)
    raise ConfigError(f"receiver {receiver.name!r} has no channel")


def build_zalo(
    receiver: Receiver, settings: NotifySettings, pool: ConnectionPool, config: NotifyConfig | None
) -> ZaloChannel:
    """A Zalo channel on the OA of ``IOC_ZALO_*`` (tokens in the database, on ``pool``)."""
    cfg = receiver.zalo
    assert cfg is not None
    s = settings
    if not s.zalo_app_id or s.zalo_app_secret is None or s.zalo_oa_secret is None:
        raise ConfigError(
            f"receiver {receiver.name!r}: zalo needs IOC_ZALO_APP_ID, IOC_ZALO_APP_SECRET "
            "and IOC_ZALO_OA_SECRET"
        )
    tokens = build_tokens(pool, s, cfg.timeout.total_seconds())
    fallback = config.receiver(cfg.fallback) if config and cfg.fallback else None
    return ZaloChannel(
        receiver.name,
        cfg,
        pool,
        tokens.api,
        tokens,
        derive_key(s.zalo_oa_secret.get_secret_value(), "zalo-button"),
        timedelta(hours=s.zalo_window_hours),
        fallback.channel if fallback else None,
    )
