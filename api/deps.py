"""Dependencies shared by the routes: database connection, the caller, roles, paging."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api import scope, security
from api.security import Principal
from api.settings import ApiSetup
from storage.settings import StorageSetup

bearer = HTTPBearer(auto_error=False, description="API token from `ioc users create`.")


def get_settings(request: Request) -> ApiSetup:
    """The settings the app was created with."""
    settings: ApiSetup = request.app.state.settings
    return settings


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """A pooled autocommit connection for the duration of the request."""
    with request.app.state.pool.connection() as conn:
        yield conn


def get_storage_settings(request: Request) -> StorageSetup:
    """The storage settings (report time zone, raw retention) the app was created with."""
    storage: StorageSetup = request.app.state.storage
    return storage


SettingsDep = Annotated[ApiSetup, Depends(get_settings)]
StorageDep = Annotated[StorageSetup, Depends(get_storage_settings)]
ConnDep = Annotated[psycopg.Connection, Depends(get_conn)]


def _too_many(retry_after: int) -> HTTPException:
    return HTTPException(
        429,
        f"rate limit exceeded; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def current_user(
    request: Request,
    conn: ConnDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller identified by a live bearer token (401 otherwise), within its rate limit."""
    limiter = request.app.state.limiter
    if credentials is None or credentials.scheme.lower() != "bearer":
        wait = limiter.hit("addr:" + (request.client.host if request.client else "?"))
        if wait:
            raise _too_many(wait)
        raise _unauthorized("missing bearer token (Authorization: Bearer <token>)")
    row = security.lookup(conn, credentials.credentials)
    if row is None or row.expired:
        wait = limiter.hit("addr:" + (request.client.host if request.client else "?"))
        if wait:
            raise _too_many(wait)
        raise _unauthorized(
            "token expired; ask an admin for `ioc users rotate`"
            if row is not None
            else "invalid or revoked token"
        )
    wait = limiter.hit(f"token:{row.token_id}")
    if wait:
        raise _too_many(wait)
    principal = Principal(row.user_id, row.name, row.role, tuple(row.communes), row.token_id)
    request.state.user = principal.name
    return principal


def require(role: str) -> Callable[[Principal], Principal]:
    """A dependency that lets through callers whose role includes ``role`` (403 otherwise)."""

    def check(user: Annotated[Principal, Depends(current_user)]) -> Principal:
        if not user.can(role):
            raise HTTPException(403, f"this action needs the {role} role; you are {user.role}")
        return user

    return check


def require_global_admin(user: Annotated[Principal, Depends(require("admin"))]) -> Principal:
    """An admin without a commune scope (user management)."""
    if user.communes:
        raise HTTPException(403, "this action needs an admin not limited to some communes")
    return user


CurrentUser = Annotated[Principal, Depends(current_user)]
Technician = Annotated[Principal, Depends(require("technician"))]
Admin = Annotated[Principal, Depends(require("admin"))]
GlobalAdmin = Annotated[Principal, Depends(require_global_admin)]


class Page:
    """``limit`` / ``offset`` query parameters, capped by the settings."""

    def __init__(
        self,
        settings: SettingsDep,
        limit: Annotated[int | None, Query(ge=1, description="Page size (capped).")] = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip.")] = 0,
    ) -> None:
        if limit is not None and limit > settings.api.page_max:
            raise invalid("limit", f"limit must be at most {settings.api.page_max}", "query")
        self.limit = limit or settings.api.page_default
        self.offset = offset


PageDep = Annotated[Page, Depends()]


def not_found(kind: str, key: object) -> HTTPException:
    """The 404 for a missing object or one outside the caller's communes (same message)."""
    return HTTPException(404, f"{kind} {key!s} not found")


def invalid(field: str, message: str, where: str = "body") -> HTTPException:
    """A 422 in FastAPI's validation format, naming the offending field."""
    loc: list[str | int] = [where, *field.split(".")]
    return HTTPException(422, [{"loc": loc, "msg": message, "type": "value_error"}])


def check_scope(user: Principal, commune: str | None, field: str) -> None:
    """422 when a body names a commune outside the caller's scope."""
    problem = None if commune is None else scope.commune_problem(user, commune)
    if problem:
        raise invalid(field, problem)
