"""The portal application: ``create_app(settings)`` (what ``scorecard serve`` runs under uvicorn).

It builds the warehouse engine once (bringing the schema to the latest migration, as every
command does), adds the security headers to every response, and turns the portal's own
exceptions into pages: not signed in -> the sign-in page (and back afterwards); not theirs ->
403; a form without its token -> 403 with what to do."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..config import Settings
from ..warehouse.engine import connect_warehouse, init_warehouse
from .routes import accounts, auth, commentary, home, password, returns, scorecards, status, submissions, uploads
from .security import CsrfRefused, SecurityHeaders
from .web import Forbidden, NotSignedIn, Portal, login_path, render

STATIC = Path(__file__).with_name("static")


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    if engine is None:
        engine = connect_warehouse(settings.warehouse_url)
        init_warehouse(engine)
    app = FastAPI(title="Safeguarding scorecard portal", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = Portal(settings=settings, engine=engine)
    app.add_middleware(SecurityHeaders, hsts=settings.portal.secure_cookies)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (auth, password, home, returns, uploads, submissions, commentary, scorecards, status, accounts):
        app.include_router(module.router)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if request.method == "GET":
            return RedirectResponse(login_path(exc.next_path), status_code=303)
        return render(request, "error.html.j2", status_code=401, title="Signed out", message=_SIGNED_OUT)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, "error.html.j2", status_code=403, title="Not available to you", message=_FORBIDDEN)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return render(request, "error.html.j2", status_code=403, title="Form expired", message=_CSRF)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title = "Page not found" if exc.status_code == 404 else "Request refused"
        message = _NOT_FOUND if exc.status_code == 404 else str(exc.detail)
        return render(request, "error.html.j2", status_code=exc.status_code, title=title, message=message)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return render(request, "error.html.j2", status_code=400, title="Request refused", message=_BAD_REQUEST)

    return app


_SIGNED_OUT = "Your session has ended. Sign in again, then repeat what you were doing."
_FORBIDDEN = "This page is not available to your account. If you need it, ask the partnership's analyst."
_CSRF = "This form has expired or did not come from this portal. Go back, reload the page and try again."
_NOT_FOUND = "There is no such page."
_BAD_REQUEST = "The request was not understood: a value was missing or not of the expected kind."
