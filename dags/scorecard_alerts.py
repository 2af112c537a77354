"""What the DAGs do when a task fails: tell the analyst, and fail at once when a retry cannot help.

The alert goes through the product's own mail code with the product's settings, which come from
Airflow's connections and variables (``smtp_default``, ``scorecard_analyst_email``) or, when
those are not set, from the ``SCORECARD_*`` environment (``airflow_settings.scorecard_settings``):
so it arrives in either configuration, and is queued like any other mail when the server is down.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from email.message import EmailMessage

log = logging.getLogger(__name__)


@contextlib.contextmanager
def not_retryable(*kinds: type[BaseException]) -> Iterator[None]:
    """Turn the given exceptions into ``AirflowFailException`` (no retry), with their one-line
    message: a quarter that does not exist, or has no data, is no better in ten minutes."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except kinds as exc:
        raise AirflowFailException(" ".join(str(exc).split())) from None


def alert_analyst(context) -> None:
    """``on_failure_callback``: email the analyst that a task failed, why, and what to do."""
    from airflow_settings import scorecard_settings
    from pipelines.mail import deliver_or_queue

    ti = context["ti"]
    params = context.get("params") or {}
    what = params.get("quarter") or "scheduled run"
    reason = " ".join(str(context.get("exception") or "no reason given").split())
    settings = scorecard_settings()
    if not settings.mail.analyst:
        log.warning("%s.%s failed, but no analyst address is configured to tell", ti.dag_id, ti.task_id)
        return
    message = EmailMessage()
    message["Subject"] = f"LSCP scorecard: {ti.dag_id}.{ti.task_id} failed ({what})"
    message["From"] = settings.mail.sender
    message["To"] = settings.mail.analyst
    message.set_content(
        f"The task {ti.task_id} of {ti.dag_id} failed (run {ti.run_id}, try {ti.try_number}).\n\n"
        f"Why: {reason}\n\n"
        "Nothing half-built was published. Rerun it from the Airflow UI once the cause is fixed "
        "(docs/operator-guide.md says how).\n"
    )
    deliver_or_queue(message, settings.mail, settings.outbox)
