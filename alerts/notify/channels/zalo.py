"""Zalo channel: an OA customer-service message with three buttons to one Zalo user.

Within 48 hours of the user's last message the text goes out through ``message/cs`` with a
button template (``oa.query.hide`` buttons whose payload is the signed ``action:alert:MAC``).
Outside the window, or when the user cannot be reached, the message goes as a template
notification (ZNS) when one is configured, else to the fallback receiver; either way the
alert's history says why. An expired access token (-216) is refreshed once and the call
retried; a storm of them refreshes once (``alerts.zalo.tokens``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool

from alerts.chatops.signed import ACTIONS, LABELS, derive_key, encode
from alerts.notify.channels.base import Channel, Context, DeliveryError, Outgoing
from alerts.notify.templates import alert_link
from alerts.zalo import window
from alerts.zalo.api import ZaloApi, ZaloError
from alerts.zalo.config import ZaloConfig
from alerts.zalo.service import build_tokens
from alerts.zalo.tokens import TokenStore, TokensUnavailable
from ioc.errors import ConfigError

log = logging.getLogger(__name__)

MAX_TEXT = 2000
MAX_PARAM = 100


class ZaloChannelConfig(ZaloConfig):
    """The ``zalo:`` block of a receiver (fields in ``alerts.zalo.config``)."""

    def build(self, ctx: Context) -> ZaloChannel:
        """A Zalo channel on the OA of ``IOC_ZALO_*`` (tokens in the database, on the pool)."""
        s = ctx.settings.zalo
        if ctx.pool is None:
            raise ConfigError(f"receiver {ctx.receiver!r}: zalo keeps its tokens in the database")
        if not s.app_id or s.app_secret is None or s.oa_secret is None:
            raise ConfigError(
                f"receiver {ctx.receiver!r}: zalo needs IOC_ZALO_APP_ID, IOC_ZALO_APP_SECRET "
                "and IOC_ZALO_OA_SECRET"
            )
        tokens = build_tokens(ctx.pool, s, self.timeout.total_seconds())
        return ZaloChannel(
            ctx.receiver,
            self,
            ctx.pool,
            tokens.api,
            tokens,
            derive_key(s.oa_secret.get_secret_value(), "zalo-button"),
            timedelta(hours=s.window_hours),
            ctx.channel_of(self.fallback) if self.fallback else None,
        )


class ZaloChannel(Channel):
    """Sends one note to the receiver's Zalo user (or, outside the window, elsewhere)."""

    def __init__(
        self,
        name: str,
        config: ZaloConfig,
        pool: ConnectionPool,
        api: ZaloApi,
        tokens: TokenStore,
        key: bytes,
        window_length: timedelta,
        fallback_channel: str | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self.config = config
        self.pool = pool
        self.api = api
        self.tokens = tokens
        self.key = key
        self.window = window_length
        self.fallback_channel = fallback_channel
        self.clock = clock

    def send(self, note: Outgoing) -> None:
        """Deliver inside the window, else through the template or the fallback."""
        cfg = self.config
        with self.pool.connection() as conn:
            user_id = window.recipient(conn, cfg.user, cfg.user_id)
            last = window.last_interaction(conn, user_id) if user_id else None
        now = self.clock()
        if user_id is None:
            self._outside(note, f"console user {cfg.user!r} has no linked Zalo account")
            return
        if last is None or now - last > self.window:
            when = last.isoformat(timespec="minutes") if last else "never"
            hours = self.window.total_seconds() / 3600
            self._outside(note, f"outside the {hours:g} h window (last message: {when})")
            return
        try:
            self.tokens.call(lambda token: self.api.send_cs(token, user_id, self.message(note)))
        except TokensUnavailable as exc:
            self._outside(note, exc.reason, tokens_down=True)
        except ZaloError as exc:
            if exc.retryable:
                raise DeliveryError(exc.reason, retryable=True) from None
            self._outside(note, exc.reason)

    def message(self, note: Outgoing) -> dict[str, Any]:
        """The message body: the rendered text, and buttons for the first firing alert."""
        text = note.rendered.text
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        message: dict[str, Any] = {"text": text}
        firing = [
            int(a["id"])
            for a in note.payload.get("alerts", [])
            if a.get("status") == "firing" and isinstance(a.get("id"), int)
        ]
        if self.config.buttons and note.kind != "resolved" and firing:
            labels = LABELS.get(note.language, LABELS["vi"])
            suffix = f" #{firing[0]}" if len(firing) > 1 else ""
            buttons = [
                {
                    "title": labels[a] + suffix,
                    "type": "oa.query.hide",
                    "payload": encode(self.key, a, firing[0]),
                }
                for a in ACTIONS
            ]
            message["attachment"] = {
                "type": "template",
                "payload": {"template_type": "button", "buttons": buttons},
            }
        return message

    def _outside(self, note: Outgoing, why: str, tokens_down: bool = False) -> None:
        """Template notification, else fallback receiver, else a recorded failure.

        Without tokens nothing reaches Zalo: the fallback gets the message, or it is retried
        (with backoff) until the tokens are back.
        """
        ids = _alert_ids(note)
        zns = self.config.zns
        if zns is not None and not tokens_down:
            data = template_data(note, zns.params)
            try:
                self.tokens.call(
                    lambda token: self.api.send_template(
                        token, zns.phone, zns.template_id, data, f"ioc-{note.id}"
                    )
                )
            except TokensUnavailable as exc:
                tokens_down, why = True, f"{why}; template: {exc.reason}"
            except ZaloError as exc:
                if exc.retryable:
                    raise DeliveryError(f"{why}; template: {exc.reason}", retryable=True) from None
                why = f"{why}; template refused: {exc.reason}"
            else:
                with self.pool.connection() as conn:
                    window.record(conn, ids, self.clock(), "notified_template",
                                  f"zalo -> template {zns.template_id}: {why}",
                                  {"notification_id": note.id, "receiver": self.name})  # fmt: skip
                return
        if self.config.fallback and self.fallback_channel:
            with self.pool.connection() as conn:
                new_id = window.reroute(
                    conn, note.id, self.config.fallback, self.fallback_channel, why, ids,
                    self.clock(),
                )  # fmt: skip
            log.warning("zalo %s: %s; rerouted to %s", self.name, why, self.config.fallback)
            raise DeliveryError(
                f"{why}; rerouted to {self.config.fallback} (notification {new_id})",
                retryable=False,
            )
        if tokens_down:
            raise DeliveryError(f"{why}; no fallback receiver, retried", retryable=True)
        raise DeliveryError(f"{why}; no zns template nor fallback receiver", retryable=False)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.api.close()


def _alert_ids(note: Outgoing) -> list[int]:
    return [int(a["id"]) for a in note.payload.get("alerts", []) if isinstance(a.get("id"), int)]


def template_data(note: Outgoing, params: Mapping[str, str]) -> dict[str, str]:
    """ZNS parameters filled from the message (each cut to ``MAX_PARAM`` characters)."""
    alerts = note.payload.get("alerts", [])
    first = alerts[0] if alerts else {}
    values = {
        "title": note.rendered.title,
        "text": note.rendered.text,
        "commune": str(first.get("commune_name") or first.get("commune_code") or ""),
        "alerts": str(len(alerts)),
        "time": str(first.get("started_at") or "")[:16].replace("T", " "),
        "link": alert_link(note.public_url, int(first["id"])) if "id" in first else "",
        "alert_id": str(first.get("id", "")),
    }
    return {name: values[field][:MAX_PARAM] for name, field in params.items()}
