"""The first page after sign-in: what this user can do."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..web import SignedIn, render

router = APIRouter()


@router.get("/")
def home(request: Request, session: SignedIn) -> Response:
    return render(request, "home.html.j2")
