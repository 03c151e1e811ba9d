"""The bot's receiving end: long polling ``getUpdates`` while this process leads the engine.

Telegram allows one ``getUpdates`` consumer per bot, and the engine has one leader, so only the
leader polls; the offset is kept in the database so a new leader does not replay presses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeGuard

from psycopg_pool import ConnectionPool

from alerts.telegram.botapi import BotApi, BotApiError
from alerts.telegram.handler import BotHandler

log = logging.getLogger(__name__)

# Telegram's update ids are positive and fit 52 bits; the offset column is a bigint.
MAX_UPDATE_ID = 2**62

LOAD_OFFSET = "SELECT update_offset FROM telegram_state WHERE bot = %(bot)s"
SAVE_OFFSET = """
INSERT INTO telegram_state (bot, update_offset, updated_at) VALUES (%(bot)s, %(offset)s, now())
ON CONFLICT (bot) DO UPDATE SET update_offset = greatest(telegram_state.update_offset,
                                                         EXCLUDED.update_offset),
                                updated_at = now()
"""


def valid_update_id(value: object, offset: int) -> TypeGuard[int]:
    """An integer id (not a bool) at or past ``offset`` and below MAX_UPDATE_ID."""
    return (
        isinstance(value, int) and not isinstance(value, bool) and offset <= value < MAX_UPDATE_ID
    )


class TelegramReceiver:
    """Polls for updates and hands each to the handler; one failing update costs only itself."""

    def __init__(
        self,
        pool: ConnectionPool,
        api: BotApi,
        handler: BotHandler,
        is_leader: Callable[[], bool],
        poll_timeout_s: int = 25,
        retry_s: float = 5.0,
    ) -> None:
        self.pool = pool
        self.api = api
        self.handler = handler
        self.is_leader = is_leader
        self.poll_timeout_s = poll_timeout_s
        self.retry_s = retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _offset(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(LOAD_OFFSET, {"bot": self.api.bot_id}).fetchone()
        return int(row[0]) if row else 0

    def _save(self, offset: int) -> None:
        with self.pool.connection() as conn:
            conn.execute(SAVE_OFFSET, {"bot": self.api.bot_id, "offset": offset})

    def poll_once(self, timeout_s: int | None = None) -> int:
        """One ``getUpdates`` round; return how many updates were handled.

        An update whose ``update_id`` is not an integer in [0, 2^62) is skipped unhandled, and
        the offset still moves past the round (past its valid ids, else one further), so no
        update is handled twice and a bad one is not fetched for ever.
        """
        offset = self._offset()
        updates = self.api.get_updates(
            offset, self.poll_timeout_s if timeout_s is None else timeout_s
        )
        handled = 0
        bad = 0
        for update in updates:
            update_id = update.get("update_id")
            if not valid_update_id(update_id, offset):
                bad += 1
                log.warning("telegram update skipped: bad update_id %.40r", update_id)
                continue
            try:
                self.handler.handle(update)
            except Exception:  # one bad update must not stop the bot
                log.exception("telegram update %s failed", update_id)
            handled += 1
            offset = update_id + 1
            self._save(offset)
        if bad and not handled:
            self._save(offset + 1)
            self._stop.wait(self.retry_s)  # a server sending only garbage is not hammered
        return handled

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.is_leader():
                self._stop.wait(1.0)
                continue
            try:
                self.poll_once()
            except BotApiError as exc:
                log.warning("telegram getUpdates failed: %s; retry in %.0fs", exc, self.retry_s)
                self._stop.wait(self.retry_s)
            except Exception:
                log.exception("telegram receiver failed; retry in %.0fs", self.retry_s)
                self._stop.wait(self.retry_s)

    def start(self) -> None:
        """Poll in a background thread (only while this process leads)."""
        self._thread = threading.Thread(target=self._run, name="telegram-bot", daemon=True)
        self._thread.start()
        log.info("telegram bot receiver started (long polling, bot %s)", self.api.bot_id)

    def stop(self) -> None:
        """Stop polling (an in-flight long poll is abandoned to its timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.api.close()
