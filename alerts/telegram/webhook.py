"""Webhook mode: Telegram posts updates to a URL (behind a reverse proxy) instead of polling.

Every ``ioc alerts`` instance accepts updates on ``IOC_TELEGRAM_WEBHOOK_LISTEN`` (acting on a
press is a database transaction, safe from any instance); the active one registers the URL
with ``setWebhook``. Requests must carry the secret token Telegram echoes in
``X-Telegram-Bot-Api-Secret-Token`` (derived from the bot token), others get 403. The
listener has the bounds of every listener (``ioc.httpserve``): a connection cap and one
deadline for a request's headers and body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

from alerts.telegram.botapi import BotApi, BotApiError
from alerts.telegram.handler import BotHandler
from ioc.httpserve import BoundedHandler, BoundedHTTPServer

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
        host, port = listen.rsplit(":", 1)
        self.server = BoundedHTTPServer(
            (host, int(port)),
            self._request_handler(),
            max_connections=max_connections,
            request_deadline_s=deadline_s,
        )
        self.registered = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        """The port actually listened on (for ``:0``)."""
        return int(self.server.server_address[1])

    def _request_handler(self) -> type[BoundedHandler]:
        receiver = self

        class Handler(BoundedHandler):
            def do_POST(self) -> None:
                given = self.headers.get(SECRET_HEADER) or ""
                if self.path != receiver.path:
                    self._reply(404)
                    return
                if not hmac.compare_digest(given.encode(), receiver.secret.encode()):
                    self._reply(403)
                    return
                declared = self.headers.get("Content-Length") or "0"
                if not (declared.isascii() and declared.isdigit()):
                    self._reply(400)
                    return
                length = int(declared) if len(declared) <= 9 else MAX_BODY + 1
                if length > MAX_BODY:
                    self._reply(413)
                    return
                try:
                    update = json.loads(self.rfile.read(length) or b"{}")
                except (ValueError, RecursionError):
                    self._reply(400)
                    return
                if isinstance(update, dict):
                    try:
                        receiver.handler.handle(update)
                    except Exception:  # answered 200 anyway: a retry would fail the same way
                        log.exception("telegram update %s failed", update.get("update_id"))
                self._reply(200)

            def _reply(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        return Handler

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
        for target, name in ((self.server.serve_forever, "telegram-webhook"),
                             (self._register, "telegram-setwebhook")):  # fmt: skip
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("telegram webhook receiver listening on port %d", self.port)

    def stop(self) -> None:
        """Stop serving."""
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self.api.close()
