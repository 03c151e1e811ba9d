"""Shared model pieces: strict input config, RFC 3339 timestamps, errors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer

# Bounded input types, defined once in the core and re-exported for the API models.
from ioc.bounds import Instant as Instant
from ioc.bounds import JsonObject as JsonObject
from ioc.bounds import NfcStr as NfcStr
from ioc.bounds import ShownJson as ShownJson

STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
COMMUNE_PATTERN = r"^[0-9]{5}$"

# RFC 3339 with an explicit numeric offset (e.g. 2026-11-22T19:26:40+00:00), never naive.
Timestamp = Annotated[datetime, PlainSerializer(lambda d: d.isoformat(), return_type=str)]


class Input(BaseModel):
    """Base of request bodies: unknown fields are refused (no mass assignment)."""

    model_config = STRICT


class Message(BaseModel):
    """An error or status message."""

    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Message, "description": "Missing, invalid, expired or revoked token"},
    403: {"model": Message, "description": "Role not allowed"},
    404: {"model": Message, "description": "Not found (or outside your communes)"},
    413: {"model": Message, "description": "Request body too large"},
    429: {"model": Message, "description": "Rate limit exceeded"},
    503: {"model": Message, "description": "Database busy or unavailable"},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": Message, "description": "Already exists"}
}
