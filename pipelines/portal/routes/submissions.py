"""A user's submissions: ``/submissions`` (history), ``/submissions/{id}`` (waiting for intake,
then the receipt), and the downloads of its receipt and rejects workbook. Only ever for the
user's own sources (the analyst: every source); ids are whole numbers, so nothing a request
says becomes part of a path: the files are found from the load record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException

from ...sources import load_sources
from .. import audit
from ..accounts import PortalUser
from ..sessions import Session
from ..submissions import Submission, get_submission, list_submissions, receipt_files
from ..web import Forbidden, need, portal_of, render

router = APIRouter()

Submitter = Annotated[Session, Depends(need(lambda u: u.can_submit))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _theirs(request: Request, user: PortalUser, submission_id: int) -> Submission:
    """The submission, if this user may see it: 404 when there is none, 403 when it is another
    source's (the same answer however the id was come by)."""
    submission = get_submission(portal_of(request).engine, submission_id)
    if submission is None:
        raise HTTPException(404)
    if not user.can_see_source(submission.source):
        raise Forbidden()
    return submission


@router.get("/submissions")
def history(request: Request, session: Submitter) -> Response:
    portal = portal_of(request)
    user = session.user
    sources = None if user.is_analyst else sorted(user.sources)
    submissions = list_submissions(portal.engine, sources)
    files = {s.submission_id: receipt_files(portal.settings, s) for s in submissions}
    titles = {name: s.title for name, s in load_sources().items()}
    return render(
        request, "submissions.html.j2", title="Submissions", submissions=submissions, files=files, titles=titles
    )


@router.get("/submissions/{submission_id}")
def submission_page(request: Request, submission_id: int, session: Submitter) -> Response:
    submission = _theirs(request, session.user, submission_id)
    text, rejects = receipt_files(portal_of(request).settings, submission)
    titles = {name: s.title for name, s in load_sources().items()}
    return render(
        request,
        "submission.html.j2",
        title=f"Submission {submission.submission_id}",
        submission=submission,
        receipt_text=text.read_text(encoding="utf-8") if text else None,
        has_rejects=rejects is not None,
        titles=titles,
    )


def _download(request: Request, user: PortalUser, submission_id: int, which: str) -> Response:
    submission = _theirs(request, user, submission_id)
    portal = portal_of(request)
    text, rejects = receipt_files(portal.settings, submission)
    path = text if which == "receipt" else rejects
    if path is None:
        raise HTTPException(404)
    audit.record(
        portal.engine,
        "download",
        user_id=user.user_id,
        email=user.email,
        detail=f"{which} of submission {submission.submission_id}",
        remote=request.client.host if request.client else None,
    )
    if which == "receipt":
        return FileResponse(
            path,
            media_type="text/plain; charset=utf-8",
            filename=f"receipt-submission-{submission.submission_id}.txt",
        )
    return FileResponse(path, media_type=XLSX, filename=f"rejected-rows-submission-{submission.submission_id}.xlsx")


@router.get("/submissions/{submission_id}/receipt")
def receipt(request: Request, submission_id: int, session: Submitter) -> Response:
    return _download(request, session.user, submission_id, "receipt")


@router.get("/submissions/{submission_id}/rejects")
def rejects(request: Request, submission_id: int, session: Submitter) -> Response:
    return _download(request, session.user, submission_id, "rejects")
