"""The console's routes, static files and login throttle, added to the API app."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.console import alert, auth, fleet, incidents, places, reports, silences, telegram
from api.console.session import PREFIX
from api.ratelimit import LoginThrottle
from api.settings import ApiSetup

STATIC = Path(__file__).parent / "static"


def add_console(app: FastAPI, settings: ApiSetup) -> None:
    """Serve the console under /console (and send / there)."""
    app.state.login_throttle = LoginThrottle(
        settings.console.login_rate_limit,
        settings.console.login_address_rate_limit,
        settings.console.login_user_rate_limit,
        settings.api.rate_limit_storage,
        settings.console.known_address_days,
    )
    console = APIRouter(prefix=PREFIX, include_in_schema=False)
    for module in (auth, incidents, alert, places, silences, telegram, fleet, reports):
        console.include_router(module.router)
    app.include_router(console)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)
