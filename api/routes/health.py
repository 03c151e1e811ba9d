"""Liveness, readiness and Prometheus metrics (outside /api/v1, no token)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from api import probes

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Liveness answer."""

    status: str


class Check(BaseModel):
    """One readiness check."""

    ok: bool
    detail: str


class Ready(BaseModel):
    """Readiness answer (503 when a check fails)."""

    detail: str
    checks: dict[str, Check]


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


def _run(name: str, fn: Any) -> Check:
    try:
        return Check(ok=True, detail=str(fn()))
    except Exception as exc:
        log.warning("readiness check %s failed: %s", name, exc)
        return Check(
            ok=False, detail=str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        )


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready}})
def readyz(request: Request) -> Response:
    """Database reachable, migrations current, broker reachable."""
    state = request.app.state
    timeout = state.settings.api.readyz_timeout_s

    def database() -> str:
        with state.pool.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")
        return "reachable"

    def schema() -> str:
        todo = state.schema.pending()
        if todo:
            raise RuntimeError(f"{len(todo)} migration(s) pending; run `ioc migrate`")
        return "current"

    checks = {
        "database": _run("database", database),
        "migrations": _run("migrations", schema),
        "broker": _run("broker", lambda: probes.broker(state.settings.core.mqtt_url, timeout)),
    }
    failed = [name for name, check in checks.items() if not check.ok]
    body = Ready(detail="not ready: " + ", ".join(failed) if failed else "ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=503 if failed else 200)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus metrics of this API process."""
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
