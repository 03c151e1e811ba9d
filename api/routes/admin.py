"""Admin: users and tokens, and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from api import audit, security
from api.deps import Admin, ConnDep, GlobalAdmin, PageDep, SettingsDep
from api.models.admin import (
    AuditEntry,
    AuditPublic,
    TokenIssued,
    TokenRotate,
    UserCreate,
    UserPublic,
    UsersPublic,
)
from api.models.common import CONFLICT
from api.routes.device_data import From, To
from api.sqlutil import fetch_page

router = APIRouter(tags=["admin"])

AUDIT_WHERE = """
WHERE (%(scope)s::text[] IS NULL OR commune_code = ANY(%(scope)s))
  AND (%(actor)s::text IS NULL OR actor = %(actor)s)
  AND (%(action)s::text IS NULL OR action = %(action)s)
  AND (%(object_type)s::text IS NULL OR object_type = %(object_type)s)
  AND (%(object_id)s::text IS NULL OR object_id = %(object_id)s)
  AND (%(from)s::timestamptz IS NULL OR time >= %(from)s)
  AND (%(to)s::timestamptz IS NULL OR time < %(to)s)
"""
AUDIT = (
    "SELECT id, time, actor, action, object_type, object_id, commune_code, details FROM audit_log"
    + AUDIT_WHERE
    + "ORDER BY time DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s"
)
AUDIT_COUNT = "SELECT count(*) FROM audit_log" + AUDIT_WHERE
UserName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")]
Short = Annotated[str | None, Query(max_length=100)]


@router.get("/audit", response_model=AuditPublic)
def audit_log(
    conn: ConnDep,
    user: Admin,
    page: PageDep,
    actor: Short = None,
    action: Short = None,
    object_type: Short = None,
    object_id: Short = None,
    start: From = None,
    to: To = None,
) -> AuditPublic:
    """Who did what, newest first (admin; scoped admins see their communes' entries)."""
    params = {
        "scope": user.scope,
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "from": start,
        "to": to,
        "limit": page.limit,
        "offset": page.offset,
    }
    rows, count = fetch_page(conn, AUDIT, AUDIT_COUNT, params, AuditEntry)
    return AuditPublic(data=rows, count=count, limit=page.limit, offset=page.offset)


@router.get("/users", response_model=UsersPublic)
def list_users(conn: ConnDep, user: GlobalAdmin) -> UsersPublic:
    """Every API user with token counts (admin without commune scope)."""
    rows = [UserPublic(**vars(u)) for u in security.list_users(conn)]
    return UsersPublic(data=rows, count=len(rows))


@router.post("/users", response_model=TokenIssued, status_code=201, responses=CONFLICT)
def create_user(
    conn: ConnDep, user: GlobalAdmin, settings: SettingsDep, body: UserCreate
) -> TokenIssued:
    """Create a user and return their token once (admin without commune scope)."""
    days = security.expiry_days(body.expires_days, settings.api.token_days)
    try:
        with conn.transaction():
            token, expires = security.create_user(conn, body.name, body.role, body.communes, days)
            audit.record(
                conn, user.name, "create", "user", body.name, None, body.model_dump(mode="json")
            )
    except security.UserError as exc:
        raise HTTPException(409, str(exc)) from None
    return TokenIssued(name=body.name, token=token, expires_at=expires)


@router.post("/users/{name}/rotate", response_model=TokenIssued)
def rotate_token(
    conn: ConnDep, user: GlobalAdmin, settings: SettingsDep, name: UserName, body: TokenRotate
) -> TokenIssued:
    """Revoke a user's tokens and issue a new one, shown once (admin without commune scope)."""
    days = security.expiry_days(body.expires_days, settings.api.token_days)
    try:
        with conn.transaction():
            token, expires = security.rotate_token(conn, name, days)
            audit.record(conn, user.name, "rotate", "user", name)
    except security.UserError as exc:
        raise HTTPException(404, str(exc)) from None
    return TokenIssued(name=name, token=token, expires_at=expires)


@router.post("/users/{name}/revoke", response_model=UserPublic)
def revoke_user(conn: ConnDep, user: GlobalAdmin, name: UserName) -> UserPublic:
    """Revoke a user and all their tokens (admin without commune scope)."""
    try:
        with conn.transaction():
            security.revoke_user(conn, name)
            audit.record(conn, user.name, "revoke", "user", name)
    except security.UserError as exc:
        raise HTTPException(404, str(exc)) from None
    return next(UserPublic(**vars(u)) for u in security.list_users(conn) if u.name == name)
