"""Check a file and submit it: ``/check`` (the form, and the streamed upload), ``/uploads/{id}``
(what intake would decide, with the rejected rows as sent), ``/uploads/{id}/submit``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ...intake.check import CheckError
from ...intake.reading import MB
from ...sources import load_sources
from ...warehouse import WarehouseUnavailable
from .. import audit
from ..accounts import PortalUser
from ..sessions import Session
from ..submissions import SubmitRefused, submit_upload
from ..uploads import (
    UploadRefused,
    check_upload,
    load_upload,
    new_upload_id,
    read_rejected_rows,
    receive_upload,
    rejects_workbook,
    remove_upload,
    sweep_old_uploads,
    too_large_message,
    uploads_root,
)
from ..web import Forbidden, csrf_checked, need, portal_of, render

router = APIRouter()

Submitter = Annotated[Session, Depends(need(lambda u: u.can_submit))]


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None


def _choices(user: PortalUser) -> list[tuple[str, str]]:
    """(source, title) a user may say a file is of: a data officer's own; the analyst's every one."""
    return [(s.name, s.title) for s in load_sources().values() if user.can_see_source(s.name)]


def _form(request: Request, user: PortalUser, *, status_code: int = 200, message: str | None = None) -> Response:
    settings = portal_of(request).settings
    return render(
        request,
        "check.html.j2",
        status_code=status_code,
        title="Check a file",
        choices=_choices(user),
        message=message,
        limit_mb=settings.max_file_mb,
    )


@router.get("/check")
def check_form(request: Request, session: Submitter) -> Response:
    return _form(request, session.user)


@router.post("/check")
async def check_upload_page(request: Request, session: Submitter) -> Response:
    portal = portal_of(request)
    settings, user = portal.settings, session.user
    await run_in_threadpool(sweep_old_uploads, settings)
    upload_id = new_upload_id()
    folder = uploads_root(settings) / upload_id
    folder.mkdir(mode=0o700)
    limit = int(settings.max_file_mb * MB)
    try:
        received = await receive_upload(
            request.receive,
            request.headers.get("content-type"),
            request.headers.get("content-length"),
            folder,
            limit,
            session.csrf_token,
        )
    except UploadRefused as refused:
        remove_upload(folder)
        audit.record(
            portal.engine,
            "upload_refused",
            user_id=user.user_id,
            email=user.email,
            detail="over the size limit" if refused.status == 413 else "not a usable form",
            remote=_remote(request),
        )
        message = too_large_message(settings.max_file_mb) if refused.status == 413 else refused.message
        response = _form(request, user, status_code=refused.status, message=message)
        response.headers["connection"] = "close"
        return response
    except BaseException:
        remove_upload(folder)
        raise
    choices = dict(_choices(user))
    said = received.fields.get("source", "").strip()
    if not said and not user.is_analyst and len(choices) == 1:
        said = next(iter(choices))
    problem = None
    if received.path is None or received.size == 0:
        problem = "Choose a file to check (it was empty, or none was chosen)."
    elif said and said not in choices:
        problem = "Choose one of your sources."
    elif not said and not user.is_analyst:
        problem = "Choose which of your sources the file is for."
    if problem:
        remove_upload(folder)
        return _form(request, user, status_code=400, message=problem)
    try:
        upload = await run_in_threadpool(
            check_upload, settings, upload_id, folder, received, user.user_id, said or None
        )
    except CheckError as exc:
        remove_upload(folder)
        return _form(request, user, status_code=400, message=f"The file could not be checked: {exc}")
    except WarehouseUnavailable:
        remove_upload(folder)
        return _form(
            request, user, status_code=503, message="The warehouse cannot be reached just now: try again shortly."
        )
    audit.record(
        portal.engine,
        "upload",
        user_id=user.user_id,
        email=user.email,
        detail=f"upload {upload_id[:8]}: {received.original_name} ({received.size} bytes)",
        remote=_remote(request),
    )
    assert upload is not None
    return RedirectResponse(f"/uploads/{upload_id}", status_code=303)


@router.get("/uploads/{upload_id}")
async def upload_page(request: Request, upload_id: str, session: Submitter) -> Response:
    settings = portal_of(request).settings
    upload = load_upload(settings, upload_id, session.user.user_id)
    if upload is None:
        raise HTTPException(404)
    workbook = rejects_workbook(upload.folder / "out")
    rejected = await run_in_threadpool(read_rejected_rows, workbook) if workbook else None
    titles = {name: s.title for name, s in load_sources().items()}
    return render(request, "upload.html.j2", title="Check result", upload=upload, rejected=rejected, titles=titles)


@router.post("/uploads/{upload_id}/submit", dependencies=[Depends(csrf_checked)])
async def submit(request: Request, upload_id: str, session: Submitter) -> Response:
    portal = portal_of(request)
    user = session.user
    upload = load_upload(portal.settings, upload_id, user.user_id)
    if upload is None:
        raise HTTPException(404)
    if upload.source is not None and not user.can_see_source(upload.source):
        raise Forbidden()
    try:
        submission_id = await run_in_threadpool(submit_upload, portal.settings, portal.engine, upload, user)
    except SubmitRefused as refused:
        raise HTTPException(400, str(refused)) from None
    remove_upload(upload.folder)
    audit.record(
        portal.engine,
        "submit",
        user_id=user.user_id,
        email=user.email,
        detail=f"submission {submission_id}: {upload.original_name} to {upload.source}",
        remote=_remote(request),
    )
    return RedirectResponse(f"/submissions/{submission_id}", status_code=303)
