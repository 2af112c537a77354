"""A build is three steps, each safe to repeat: compute (into the marts), render (from the
marts), email (once per build). The DAG runs them as three tasks, so a retry redoes only the
step that failed; a quarter with no partner return is never built or sent."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pipelines.build import NoReturns, compute_quarter, email_quarter, render_quarter
from pipelines.periods import Quarter
from tests.test_scorecard import data  # noqa: F401  (the fixture: two years of hand-made rows)

Q1 = Quarter(2024, 1)


def mails(settings) -> list[str]:
    return sorted(p.name for p in settings.outbox.glob("*.eml"))


def test_each_step_can_be_repeated_and_the_email_goes_once_per_build(settings, data):  # noqa: F811
    first = compute_quarter(settings, Q1)
    rendered = render_quarter(settings, Q1)
    assert rendered.exceptions == list(first.exceptions) and rendered.html.exists()
    where = email_quarter(settings, Q1)
    assert len(mails(settings)) == 1 and where.endswith(".eml")
    # A retry of the render, then of the email: the same files, no second email.
    again = render_quarter(settings, Q1)
    assert again.json.read_bytes() == rendered.json.read_bytes()
    assert email_quarter(settings, Q1) == where and len(mails(settings)) == 1
    # A new build (a new computation) is a new scorecard, and is sent. A build is known by its
    # generated time, to the second: this one is a minute later (the steps above can take less
    # than a second, and two builds in one second are one build to the email step).
    first_time = datetime.fromisoformat(first.generated_at)
    compute_quarter(settings, Q1, generated_at=first_time + timedelta(minutes=1))
    render_quarter(settings, Q1)
    email_quarter(settings, Q1)
    assert len(mails(settings)) == 2


def test_a_quarter_with_no_returns_is_refused_and_nothing_is_published(settings):
    with pytest.raises(NoReturns, match="no partner return has arrived for 2024-25 Q1"):
        compute_quarter(settings, Q1)
    assert not (settings.out / Q1.code).exists() and mails(settings) == []
