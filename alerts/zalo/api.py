"""A small client of Zalo's OA Open API, OAuth and template notification (ZNS) endpoints.

Shapes follow Zalo's documents as far as they could be checked (docs/notifications.md lists
what was confirmed): every call answers JSON with ``error`` (0 = success) and ``message``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

# An expired or invalid access token: refresh once and retry (docs/notifications.md).
TOKEN_ERRORS = frozenset({-216})


class ZaloError(Exception):
    """A call failed; ``code`` is Zalo's error (None for HTTP/transport), ``retryable`` says
    whether a later attempt may succeed. Secrets never appear in the text."""

    def __init__(self, reason: str, *, code: int | None = None, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.retryable = retryable

    @property
    def token_expired(self) -> bool:
        """The access token was refused: worth one refresh."""
        return self.code in TOKEN_ERRORS


@dataclass(frozen=True)
class TokenAnswer:
    """A refresh's result: the new pair and the access token's lifetime."""

    access_token: str
    refresh_token: str
    expires_in: float


@dataclass(frozen=True)
class Urls:
    """Base URLs (settings, so tests point them at loopback)."""

    api: str = "https://openapi.zalo.me"
    oauth: str = "https://oauth.zaloapp.com"
    zns: str = "https://business.openapi.zalo.me"


class ZaloApi:
    """POSTs UTF-8 JSON (or a form, for OAuth) and turns Zalo's answers into data or errors."""

    def __init__(self, urls: Urls, timeout_s: float = 10.0) -> None:
        self.urls = urls
        self.client = httpx.Client(timeout=timeout_s)

    def _post(self, what: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.client.post(url, **kwargs)
        except httpx.HTTPError as exc:
            raise ZaloError(f"{what}: {type(exc).__name__}", retryable=True) from None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise ZaloError(f"{what}: HTTP {response.status_code}", retryable=True)
        try:
            answer = response.json()
        except ValueError:
            raise ZaloError(f"{what}: HTTP {response.status_code}, not JSON") from None
        if not isinstance(answer, dict):
            raise ZaloError(f"{what}: HTTP {response.status_code}, unexpected answer")
        return answer

    def _call(self, what: str, url: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"access_token": token, "Content-Type": "application/json; charset=utf-8"}
        answer = self._post(what, url, content=data, headers=headers)
        code = answer.get("error", 0)
        if code not in (0, None):
            text = str(answer.get("message") or "")[:200]
            raise ZaloError(f"{what}: error {code}: {text}", code=_int(code))
        data_part = answer.get("data")
        return data_part if isinstance(data_part, dict) else {}

    def send_cs(self, token: str, user_id: str, message: dict[str, Any]) -> dict[str, Any]:
        """A customer-service message (free within the 48 h window) to one user."""
        url = f"{self.urls.api.rstrip('/')}/v3.0/oa/message/cs"
        return self._call("zalo message/cs", url, token, {"recipient": {"user_id": user_id},
                                                          "message": message})  # fmt: skip

    def send_template(
        self, token: str, phone: str, template_id: str, data: dict[str, str], tracking: str
    ) -> dict[str, Any]:
        """A template notification (ZNS) to a phone number, outside the window."""
        url = f"{self.urls.zns.rstrip('/')}/message/template"
        body = {"phone": phone, "template_id": template_id, "template_data": data,
                "tracking_id": tracking}  # fmt: skip
        return self._call("zalo zns", url, token, body)

    def refresh(self, app_id: str, secret_key: str, refresh_token: str) -> TokenAnswer:
        """Exchange the (single-use) refresh token for a new access and refresh token."""
        url = f"{self.urls.oauth.rstrip('/')}/v4/oa/access_token"
        form = {"refresh_token": refresh_token, "app_id": app_id, "grant_type": "refresh_token"}
        answer = self._post("zalo oauth", url, data=form, headers={"secret_key": secret_key})
        access, refresh = answer.get("access_token"), answer.get("refresh_token")
        if not isinstance(access, str) or not isinstance(refresh, str) or not access:
            code = answer.get("error")
            text = str(answer.get("error_description") or answer.get("message") or "")[:200]
            raise ZaloError(f"zalo oauth: refused: {code} {text}".rstrip(), code=_int(code))
        try:
            expires = float(answer.get("expires_in") or 3600)
        except (TypeError, ValueError):
            expires = 3600.0
        return TokenAnswer(access, refresh, expires)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
