"""Users, tokens and the audit log as admins see them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.models.common import COMMUNE_PATTERN, Input, ShownJson, Timestamp

Role = Literal["admin", "operator", "technician"]


class UserCreate(Input):
    """A new API user; ``communes`` limits them to those communes (empty = all)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    role: Role
    communes: list[Annotated[str, Field(pattern=COMMUNE_PATTERN)]] = Field([], max_length=200)
    expires_days: int | None = Field(
        None, ge=0, le=3650, description="Token lifetime; default from settings, 0 = never."
    )


class TokenRotate(Input):
    """Options of a token rotation."""

    expires_days: int | None = Field(None, ge=0, le=3650)


class UserPublic(BaseModel):
    """A user (never their token)."""

    name: str
    role: str
    communes: list[str]
    created_at: Timestamp
    revoked_at: Timestamp | None
    active_tokens: int
    expires_at: Timestamp | None
    last_used_at: Timestamp | None


class UsersPublic(BaseModel):
    """Every user."""

    data: list[UserPublic]
    count: int


class TokenIssued(BaseModel):
    """A new token: shown once, stored only as a digest."""

    name: str
    token: str
    expires_at: Timestamp | None


class AuditEntry(BaseModel):
    """One audit log entry."""

    id: int
    time: Timestamp
    actor: str
    action: str
    object_type: str
    object_id: str
    commune_code: str | None
    details: ShownJson


class AuditPublic(BaseModel):
    """A page of audit entries, newest first."""

    data: list[AuditEntry]
    count: int
    limit: int
    offset: int
