"""A fake Zalo OA API on loopback, shaped after Zalo's documented endpoints.

- ``POST /v3.0/oa/message/cs`` (header ``access_token``): records the message, or answers
  ``{"error": -216}`` when the token is not the current one (expired or rotated away).
- ``POST /v4/oa/access_token`` (form, header ``secret_key``): a single-use refresh token
  gives a new access token and a new refresh token; a used or unknown one is refused.
- ``POST /message/template`` (ZNS): records the template notification.

Test code plays Zalo's side: ``expire()`` the access token, count ``refreshes``, and sign
webhook events with ``sign``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


class FakeZalo:
    """``url`` serves all three bases (API, OAuth, ZNS) of the settings."""

    def __init__(self, app_id: str, app_secret: str, refresh_token: str) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.lock = threading.Lock()
        self.access_token = "at-0"
        self.refresh_token = refresh_token
        self.refreshes = 0
        self.refresh_delay_s = 0.0
        self.refuse_refresh = False
        # Grace: a refresh token stays valid until its successor is used (else single-use).
        self.grace = False
        self._previous: str | None = None
        self.messages: list[dict[str, Any]] = []
        self.templates: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeZalo:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def expire(self) -> None:
        """The access token expires (every call with it now answers -216)."""
        with self.lock:
            self.access_token = f"expired-{next(self._ids)}"

    def sent_to(self, user_id: str) -> list[dict[str, Any]]:
        """Messages the OA sent to this user."""
        with self.lock:
            return [m["message"] for m in self.messages if m["recipient"]["user_id"] == user_id]

    def texts_to(self, user_id: str) -> list[str]:
        """Texts the OA sent to this user."""
        return [str(m.get("text")) for m in self.sent_to(user_id)]

    def sign(self, body: str, timestamp: str, oa_secret: str) -> str:
        """``X-ZEvent-Signature`` of a webhook body, as Zalo computes it."""
        mac = hashlib.sha256((self.app_id + body + timestamp + oa_secret).encode()).hexdigest()
        return f"mac={mac}"

    def _refresh(self, form: dict[str, str], secret: str | None) -> dict[str, Any]:
        time.sleep(self.refresh_delay_s)
        with self.lock:
            if (
                self.refuse_refresh
                or secret != self.app_secret
                or form.get("app_id") != self.app_id
            ):
                return {"error": -14014, "error_name": "Invalid refresh token"}
            given = form.get("refresh_token")
            if given not in (self.refresh_token, self._previous if self.grace else None):
                return {"error": -14014, "error_name": "Invalid refresh token"}
            self.refreshes += 1
            n = next(self._ids)
            self.access_token = f"at-{n}"
            new_refresh = f"rt-{n}"
            self._previous, self.refresh_token = given, new_refresh
            return {"access_token": self.access_token, "refresh_token": new_refresh,
                    "expires_in": "90000"}  # fmt: skip

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/v4/oa/access_token":
                    form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                    self._json(fake._refresh(form, self.headers.get("secret_key")))
                    return
                body = json.loads(raw or b"{}")
                with fake.lock:
                    if self.headers.get("access_token") != fake.access_token:
                        self._json({"error": -216, "message": "Access token is invalid"})
                        return
                    if self.path == "/v3.0/oa/message/cs":
                        fake.messages.append(body)
                    elif self.path == "/message/template":
                        fake.templates.append(body)
                    else:
                        self._json({"error": -201, "message": "unknown method"}, 404)
                        return
                    msg_id = f"m{next(fake._ids)}"
                self._json({"error": 0, "message": "Success", "data": {"message_id": msg_id}})

            def _json(self, answer: dict[str, Any], status: int = 200) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
