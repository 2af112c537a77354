"""The PMSG email: the HTML scorecard itself, a plain-text alternative and the workbook.

Structure (what Outlook and Gmail both show inline)::

    multipart/mixed
      multipart/related
        multipart/alternative
          text/plain
          text/html            (images referenced as cid:...)
        image/png ...          (Content-ID, inline: each sparkline, then each distinct SPC icon once)
      application/vnd.openxmlformats-officedocument.spreadsheetml.sheet  (attachment)
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from email.message import EmailMessage, MIMEPart
from email.policy import default
from email.utils import formatdate, make_msgid
from pathlib import Path

from ..model import Revision, Scorecard
from .html import render_html
from .icons import icons_used
from .sentences import revision_sentence, subject_for
from .text import render_text

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
MSGID_DOMAIN = "scorecard.lscp.invalid"


def build_scorecard_email(
    scorecard: Scorecard,
    *,
    sender: str,
    recipients: Sequence[str],
    workbook: Path,
    charts: Mapping[str, bytes],
    icons: Mapping[str, bytes] | None = None,
) -> EmailMessage:
    """The message, ready for :func:`pipelines.mail.deliver`; charts are PNG bytes by indicator
    id, icons PNG bytes by icon key (the SPC icons the scorecard shows when not given). Each
    distinct icon is attached once and referenced by every row that shows it."""
    if icons is None:
        icons = icons_used(scorecard)
    if not recipients:
        raise ValueError("the scorecard email needs at least one recipient (SCORECARD_PMSG_TO)")
    # Short, unique Content-IDs: a header under 78 characters is never folded, which some
    # clients mishandle when matching cid: references.
    batch = secrets.token_hex(4)
    cids = {ind_id: f"<chart-{_safe_id(ind_id)}-{batch}@{MSGID_DOMAIN}>" for ind_id in charts}
    icon_cids = {key: f"<{_safe_id(key)}-{batch}@{MSGID_DOMAIN}>" for key in icons}
    html = render_html(
        scorecard,
        charts={ind_id: "cid:" + cid.strip("<>") for ind_id, cid in cids.items()},
        icons={key: "cid:" + cid.strip("<>") for key, cid in icon_cids.items()},
    )
    text = render_text(scorecard)

    msg = EmailMessage(policy=default)
    msg["MIME-Version"] = "1.0"
    msg["Subject"] = subject_for(scorecard)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring="scorecard", domain=MSGID_DOMAIN)
    msg["Auto-Submitted"] = "auto-generated"  # tells out-of-office replies not to answer

    alternative = MIMEPart(policy=default)
    alternative.set_content(text, subtype="plain", charset="utf-8")
    alternative.add_alternative(html, subtype="html", charset="utf-8")
    msg.make_related()  # empty: the alternative goes in first, then the images it refers to
    msg.set_param("type", "multipart/alternative")  # RFC 2387: the root part's type
    msg.attach(alternative)  # type: ignore[arg-type]  # typeshed wants a whole message; a part is what MIME nests
    for ind_id, png in charts.items():
        msg.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=cids[ind_id],
            filename=f"{_safe_id(ind_id)}.png",
            disposition="inline",
        )
    for key, png in icons.items():
        msg.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=icon_cids[key],
            filename=f"{_safe_id(key)}.png",
            disposition="inline",
        )

    workbook = Path(workbook)
    quarter = _safe_id(scorecard.quarter or "scorecard")
    msg.add_attachment(
        workbook.read_bytes(), maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1], filename=f"LSCP-scorecard-{quarter}.xlsx"
    )
    return msg


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def build_revision_notice(
    revisions: Sequence[Revision], *, sender: str, recipient: str, folders: Mapping[str, Path]
) -> EmailMessage:
    """The analyst's notice that published figures were revised: each one (old and new, as the
    scorecard shows them, so a suppressed figure stays ``c``), the quarters whose files were
    written again, and that the sub group was not emailed. Plain text; figures only."""
    quarters = sorted({r.quarter for r in revisions})
    labels = {r.quarter: r.label for r in revisions}
    count = len(revisions)
    lines = [
        "Figures in scorecards already published have changed: the warehouse now gives different values",
        "(late or corrected partner returns, or a changed indicator definition).",
        "",
    ]
    for quarter in quarters:
        lines.append(f"{labels[quarter]}:")
        lines += [f"  {revision_sentence(r)} ({r.name})" for r in revisions if r.quarter == quarter]
        lines.append("")
    lines += [
        "What has been done:",
        *[
            f"- {labels[q]}: its scorecard was computed again and its files written again in {folders[q]}"
            for q in quarters
        ],
        "- The sub group has not been emailed.",
        "- The revisions are recorded in the warehouse (indicator_revisions), and the next scorecard built",
        "  lists them in its notes.",
        "",
        "To send a revised scorecard to the sub group now: scorecard build --quarter <quarter>",
        "(or a manual run of quarterly_scorecard with that quarter).",
    ]
    msg = EmailMessage(policy=default)
    noun = "figure" if count == 1 else "figures"
    msg["Subject"] = f"LSCP scorecard: {count} published {noun} revised ({', '.join(labels[q] for q in quarters)})"
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring="revisions", domain=MSGID_DOMAIN)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n".join(lines) + "\n")
    return msg
