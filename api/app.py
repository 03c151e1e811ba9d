"""The FastAPI application factory: pool in the lifespan, routers, hardening, offline docs."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
import psycopg
import psycopg_pool
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from psycopg.types.json import set_json_loads
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import __doc__ as api_doc
from api.console import errors as console_errors
from api.console.router import add_console
from api.middleware import BodyLimit, Metrics
from api.models.common import ERRORS
from api.probes import SchemaCheck
from api.routes import (
    admin,
    alerts,
    collector,
    collectors,
    communes,
    device_data,
    devices,
    health,
    overview,
    registry_import,
    reports,
    silences,
    sites,
    tiles,
)
from api.settings import ApiSetup
from ioc import __version__
from ioc.bounds import stored_json_loads
from ioc.db import FAILOVER, CheckedPool
from ioc.ratelimit import RateLimiter
from storage.settings import StorageSetup

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5  # seconds a client waits after a 503 (a switchover costs about that much)
STATIC = Path(fastapi_offline.__file__).parent / "static"


def _configure(conn: psycopg.Connection) -> None:
    # A stored JSON document too deep for Python's parser is shown as a note (ShownJson).
    set_json_loads(stored_json_loads, conn)


def _pool(settings: ApiSetup) -> psycopg_pool.ConnectionPool:
    # CheckedPool: a connection the server dropped (restart, failover, pg_terminate_backend)
    # is replaced when taken from the pool instead of failing the request that gets it.
    return CheckedPool(
        settings.core.database_url,
        min_size=1,
        max_size=settings.core.db_pool_size,
        timeout=settings.api.db_pool_timeout_s,
        kwargs={"autocommit": True, "options": "-c timezone=UTC"},
        configure=_configure,
        name="ioc-api",
        open=False,
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if console_errors.is_console(request):
            return console_errors.html_error(request, exc.status_code, exc.detail, exc.headers)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError) -> Response:
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        if console_errors.is_console(request):
            return console_errors.html_error(request, 422, detail)
        return JSONResponse({"detail": detail}, status_code=422)

    def unavailable(request: Request, exc: Exception) -> Response:
        # No free connection (PoolTimeout), or the primary went away or changed mid-request
        # (a failover: ioc.db.FAILOVER): 503 with Retry-After, never 500; the pool's check
        # replaces the dead connections and the next request lands on the new primary.
        log.warning("no database for %s %s: %s", request.method, request.url.path, exc)
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        message = "database busy or unavailable; retry"
        if console_errors.is_console(request):
            return console_errors.html_error(request, 503, message, headers)
        return JSONResponse({"detail": message}, status_code=503, headers=headers)

    errors: tuple[type[Exception], ...] = (psycopg_pool.PoolTimeout, *FAILOVER)
    for error in errors:
        app.add_exception_handler(error, unavailable)

    @app.exception_handler(psycopg.DataError)
    def data_error(request: Request, exc: psycopg.DataError) -> JSONResponse:
        # A value the database cannot hold (NUL characters, numbers out of range, ...).
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid value"
        detail = [{"loc": ["request"], "msg": f"invalid input: {message}", "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(Exception)
    def internal_error(request: Request, exc: Exception) -> Response:
        ref = uuid.uuid4().hex[:12]
        log.error(
            "unhandled error %s in %s %s", ref, request.method, request.url.path, exc_info=exc
        )
        if console_errors.is_console(request):
            return console_errors.html_error(request, 500, f"internal error (reference {ref})")
        return JSONResponse({"detail": f"internal error (reference {ref})"}, status_code=500)


def _add_docs(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="IOC API",
            swagger_js_url="/static/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui.css",
            swagger_favicon_url="/static/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="IOC API",
            redoc_js_url="/static/redoc.standalone.js",
            redoc_favicon_url="/static/favicon.png",
            with_google_fonts=False,
        )


def create_app(settings: ApiSetup, storage: StorageSetup) -> FastAPI:
    """Build the API; the database pool opens (and is checked) when the app starts.

    ``storage`` (resolved with ``storage.jobs.resolve``) serves the availability report.
    """
    pool = _pool(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        with _opened(pool):
            yield

    app = FastAPI(
        title="Commune IOC API",
        version=__version__,
        description=api_doc or "",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.storage = storage
    app.state.pool = pool
    app.state.limiter = RateLimiter(settings.api.rate_limit, settings.api.rate_limit_storage)
    app.state.schema = SchemaCheck(settings.core.database_url)
    app.state.registry = CollectorRegistry()
    v1 = APIRouter(prefix="/api/v1", responses=ERRORS)
    for module in (communes, sites, registry_import, devices, device_data, alerts, silences):
        v1.include_router(module.router)
    v1.include_router(overview.router)
    v1.include_router(reports.router)
    v1.include_router(admin.router)
    v1.include_router(collector.router)
    v1.include_router(collectors.router)
    app.include_router(v1)
    app.include_router(health.router)
    app.include_router(tiles.router)
    add_console(app, settings)
    _add_error_handlers(app)
    _add_docs(app)
    app.add_middleware(BodyLimit, limit=settings.api.body_limit_bytes)
    app.add_middleware(Metrics, registry=app.state.registry)
    return app


@contextmanager
def _opened(pool: psycopg_pool.ConnectionPool) -> Iterator[None]:
    pool.open()
    try:
        pool.wait(timeout=10)
        yield
    finally:
        pool.close()
