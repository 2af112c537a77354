"""quarterly_scorecard: at 06:00 (UK time) on the 15th day after each financial quarter ends,
build the quarter that has just ended and email it to the Performance Management Sub Group.

A manual run may name any quarter with the ``quarter`` parameter (e.g. ``2024-25Q1``); without
one it builds the latest quarter that ended before the run. Past quarters can be backfilled
(``airflow backfill create``): each run builds the quarter its own date points at. A failure
emails the analyst through the ``smtp_default`` connection. Thin wrapper over ``pipelines.build``.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import CronTriggerTimetable, Param, dag, task

# Quarters end 30 Jun, 30 Sep, 31 Dec and 31 Mar; the 15th day after is the 15th of the next month.
SCHEDULE = CronTriggerTimetable("0 6 15 1,4,7,10 *", timezone="Europe/London")

ALERT_ANALYST = SmtpNotifier(
    to="{{ var.value.get('scorecard_analyst_email', 'analyst@lscp.invalid') }}",
    from_email="{{ var.value.get('scorecard_mail_from', 'scorecard@lscp.invalid') }}",
    subject="LSCP scorecard: {{ ti.dag_id }}.{{ ti.task_id }} failed ({{ params.quarter or 'scheduled run' }})",
    html_content=(
        "<p>The quarterly scorecard task <b>{{ ti.task_id }}</b> failed after its retries "
        "(run {{ run_id }}, try {{ ti.try_number }}).</p><p>{{ exception | e }}</p>"
        "<p>Rerun it from the Airflow UI once the cause is fixed; nothing half-built was published.</p>"
    ),
    smtp_conn_id="smtp_default",
)

DEFAULT_ARGS = {
    "owner": "lscp-analyst",
    "retries": 2,
    "retry_delay": timedelta(minutes=10),
    "on_failure_callback": [ALERT_ANALYST],
}


@dag(
    dag_id="quarterly_scorecard",
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2024, 1, 1, tz="Europe/London"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["lscp", "scorecard"],
    params={
        "quarter": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-\d{2}Q[1-4]$",
            description="Financial quarter to build, e.g. 2024-25Q1; empty for the latest complete quarter.",
        )
    },
    doc_md=__doc__,
)
def quarterly_scorecard():
    @task
    def choose_quarter(params=None, logical_date=None, dag_run=None) -> str:
        from pipelines.periods import Quarter

        requested = (params or {}).get("quarter")
        if requested:
            return Quarter.parse(requested).code  # a bad quarter fails here with a clear message
        moment = logical_date or getattr(dag_run, "run_after", None) or pendulum.now("UTC")
        return Quarter.for_run(moment).code

    @task
    def build(quarter: str) -> dict:
        from airflow_settings import scorecard_settings
        from pipelines.build import build_quarter
        from pipelines.periods import Quarter

        return build_quarter(scorecard_settings(), Quarter.parse(quarter), email=True).to_dict()

    build(choose_quarter())


quarterly_scorecard()
