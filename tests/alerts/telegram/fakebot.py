"""A fake Telegram Bot API on loopback, shaped after https://core.telegram.org/bots/api.

It keeps a queue of updates (``getUpdates`` long-polls it, confirming by ``offset``), the
messages the bot sent (``sendMessage`` / ``editMessageText``) and its callback answers. Test
code plays the users: ``say`` (a message to the bot) and ``press`` (an inline button).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


class FakeBotApi:
    """``url`` is the Bot API base (``IOC_TELEGRAM_API_URL``); ``token`` the only valid token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.Condition()
        self.updates: list[dict[str, Any]] = []
        self.messages: dict[int, dict[str, Any]] = {}
        self.answers: list[dict[str, Any]] = []
        self.edits: list[dict[str, Any]] = []
        self.calls: list[str] = []
        # Set by setWebhook: updates are then POSTed there (with the secret) instead of queued.
        self.webhook: dict[str, Any] | None = None
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeBotApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.lock.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # --- the users -------------------------------------------------------------------------
    def _push(self, update: dict[str, Any]) -> None:
        with self.lock:
            update["update_id"] = next(self._update_ids)
            hook = self.webhook
            if hook is None:
                self.updates.append(update)
                self.lock.notify_all()
                return
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook.get("secret_token") or ""}
        r = httpx.post(hook["url"], json=update, headers=headers, timeout=10)
        r.raise_for_status()

    def push_raw(self, update: dict[str, Any]) -> None:
        """Queue an update as given, ``update_id`` included (a hostile or broken server)."""
        with self.lock:
            self.updates.append(update)
            self.lock.notify_all()

    def say(self, user_id: int, text: str, username: str = "kythuat") -> None:
        """The user sends ``text`` to the bot in a private chat."""
        self._push(
            {
                "message": {
                    "message_id": next(self._message_ids),
                    "date": int(time.time()),
                    "chat": {"id": user_id, "type": "private"},
                    "from": {
                        "id": user_id,
                        "is_bot": False,
                        "first_name": "Kỹ thuật",
                        "username": username,
                        "language_code": "vi",
                    },
                    "text": text,
                }
            }
        )

    def press(self, user_id: int, message_id: int, data: str) -> str:
        """The user presses a button of a message the bot sent; return the query id."""
        query_id = f"q{next(self._update_ids)}"
        message = self.messages[message_id]
        self._push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": {
                        "id": user_id,
                        "is_bot": False,
                        "first_name": "Kỹ thuật",
                        "language_code": "vi",
                    },
                    "message": json.loads(json.dumps(message)),
                    "chat_instance": "1",
                    "data": data,
                }
            }
        )
        return query_id

    def buttons(self, message_id: int) -> list[dict[str, str]]:
        """The inline buttons of a sent message, row by row flattened."""
        markup = self.messages[message_id].get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    def answer_to(self, query_id: str) -> dict[str, Any] | None:
        """The bot's answerCallbackQuery for this press, once it came."""
        with self.lock:
            return next((a for a in self.answers if a["callback_query_id"] == query_id), None)

    def sent_to(self, chat_id: int) -> list[str]:
        """Texts the bot sent to a chat."""
        with self.lock:
            return [m["text"] for m in self.messages.values() if m["chat"]["id"] == chat_id]

    # --- the Bot API -----------------------------------------------------------------------
    def _call(self, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls.append(method)
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(body)}
        with self.lock:
            if method == "sendMessage":
                message = {
                    "message_id": next(self._message_ids),
                    "date": int(time.time()),
                    "chat": {"id": body["chat_id"], "type": "private"},
                    "text": body["text"],
                }
                if body.get("reply_markup"):
                    message["reply_markup"] = body["reply_markup"]
                self.messages[message["message_id"]] = message
                return 200, {"ok": True, "result": message}
            if method == "editMessageText":
                message = self.messages.get(body.get("message_id", -1))
                if message is None:
                    return 400, {
                        "ok": False,
                        "error_code": 400,
                        "description": "Bad Request: message to edit not found",
                    }
                message["text"] = body["text"]
                if body.get("reply_markup"):
                    message["reply_markup"] = body["reply_markup"]
                else:
                    message.pop("reply_markup", None)
                self.edits.append(body)
                return 200, {"ok": True, "result": message}
            if method == "setWebhook":
                self.webhook = body
                self.lock.notify_all()
                return 200, {"ok": True, "result": True, "description": "Webhook was set"}
            if method == "deleteWebhook":
                self.webhook = None
                return 200, {"ok": True, "result": True}
            if method == "answerCallbackQuery":
                self.answers.append(body)
                self.lock.notify_all()
                return 200, {"ok": True, "result": True}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def _get_updates(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(body.get("offset") or 0)
        deadline = time.monotonic() + min(float(body.get("timeout") or 0), 50)
        with self.lock:
            self.updates = [  # confirmed ones go; ids a real server would never send stay
                u
                for u in self.updates
                if not isinstance(u.get("update_id"), int) or u["update_id"] >= offset
            ]
            while not self.updates and time.monotonic() < deadline:
                self.lock.wait(deadline - time.monotonic())
            return list(self.updates)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                prefix = f"/bot{fake.token}/"
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                if not self.path.startswith(prefix):
                    status, answer = (
                        401,
                        {"ok": False, "error_code": 401, "description": "Unauthorized"},
                    )
                else:
                    status, answer = fake._call(self.path[len(prefix) :], json.loads(raw or b"{}"))
                data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
