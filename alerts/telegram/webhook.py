"""Webhook mode: Telegram posts updates to a URL (behind a reverse proxy) instead of polling.

Every ``ioc alerts`` instance accepts updates on ``IOC_TELEGRAM_WEBHOOK_LISTEN`` (acting on a
press is a database transaction, safe from any instance); the active one registers the URL
with ``setWebhook``. Requests must carry the secret token Telegram echoes in
``X-Telegram-Bot-Api-Secret-Token`` (derived from the bot token), others get 403. The
listener is the chat apps' one (``alerts.chatops.listener``: an ASGI app on the bounded server
of ``ioc.boundedhttp``): a connection cap, one deadline for a request's headers and body, a
body cap.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from alerts.chatops.listener import Answer, Headers, webhook_listener
from alerts.telegram.botapi import BotApi, BotApiError
from alerts.telegram.handler import BotHandler

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1_000_000


def secret_for(bot_token: str) -> str:
    """The webhook secret (Telegram allows A-Z, a-z, 0-9, _ and -; up to 256 characters)."""
    digest = hmac.new(bot_token.encode(), b"ioc-telegram-webhook", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class WebhookReceiver:
    """An HTTP server for Telegram's POSTs, and the leader's ``setWebhook`` registration."""

    def __init__(
        self,
        api: BotApi,
        handler: BotHandler,
        is_leader: Callable[[], bool],
        url: str,
        listen: str,
        *,
        max_connections: int = 64,
        deadline_s: float = 10.0,
    ) -> None:
        self.api = api
        self.handler = handler
        self.is_leader = is_leader
        self.url = url
        self.path = urlsplit(url).path or "/"
        self.secret = secret_for(api.token)
        self.server = webhook_listener(
            listen,
            self.path,
            self.accept,
            name="telegram-webhook",
            max_body=MAX_BODY,
            max_connections=max_connections,
            deadline_s=deadline_s,
            allowed=self.allowed,
        )
        self.registered = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        """The port actually listened on (for ``:0``)."""
        return self.server.port

    def allowed(self, headers: Headers) -> bool:
        """Whether the request carries the webhook secret (checked before the body is read)."""
        given = headers.get(SECRET_HEADER) or ""
        return hmac.compare_digest(given.encode(), self.secret.encode())

    def accept(self, raw: bytes, headers: Headers) -> Answer:
        """Handle one update at once; 200 also when it fails (a retry would fail the same way)."""
        try:
            update: Any = json.loads(raw or b"{}")
        except (ValueError, RecursionError):
            return 400, {}
        if isinstance(update, dict):
            try:
                self.handler.handle(update)
            except Exception:
                log.exception("telegram update %s failed", update.get("update_id"))
        return 200, {}

    def _register(self) -> None:
        while not self._stop.is_set():
            leading = self.is_leader()
            if leading and not self.registered:
                try:
                    self.api.call(
                        "setWebhook",
                        {
                            "url": self.url,
                            "secret_token": self.secret,
                            "allowed_updates": ["message", "callback_query"],
                        },
                    )
                    self.registered = True
                    log.info("telegram webhook registered: %s", self.url)
                except BotApiError as exc:
                    log.warning("telegram setWebhook failed: %s", exc)
            elif not leading:
                self.registered = False
            self._stop.wait(1.0)

    def start(self) -> None:
        """Serve webhook requests and keep the webhook registered while leading."""
        self.server.start()
        thread = threading.Thread(target=self._register, name="telegram-setwebhook", daemon=True)
        thread.start()
        self._threads.append(thread)
        log.info("telegram webhook receiver listening on port %d", self.port)

    def stop(self) -> None:
        """Stop serving."""
        self._stop.set()
        self.server.stop()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self.api.close()
