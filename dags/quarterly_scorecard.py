"""quarterly_scorecard: at 06:00 (UK time) on the 15th day after each financial quarter ends,
build the quarter that has just ended and email it to the Performance Management Sub Group.

Three tasks, each safe to repeat, so a retry redoes only what failed: ``compute`` (values,
ratings, SPC, into the marts), ``render`` (JSON, HTML, Excel, charts from the marts), ``email``
(to the sub group, once per build). A manual run may name any quarter with the ``quarter``
parameter (e.g. ``2024-25Q1``); without one it builds the latest quarter that ended before the
run. Past quarters can be backfilled (``airflow backfill create``): each run builds the quarter
its own date points at.

Failures that a retry cannot mend (a quarter that does not exist, a quarter with no partner
return) fail at once; every failure is emailed to the analyst, with either configuration
(Airflow's ``smtp_default`` and ``scorecard_analyst_email``, or the ``SCORECARD_*`` settings).
Thin wrapper over ``pipelines.build``.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task
from scorecard_alerts import alert_analyst, not_retryable

# Quarters end 30 Jun, 30 Sep, 31 Dec and 31 Mar; the 15th day after is the 15th of the next month.
SCHEDULE = CronTriggerTimetable("0 6 15 1,4,7,10 *", timezone="Europe/London")

DEFAULT_ARGS = {
    "owner": "lscp-analyst",
    "retries": 2,
    "retry_delay": timedelta(minutes=10),
    "on_failure_callback": [alert_analyst],
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
    def compute(params=None, logical_date=None, dag_run=None) -> str:
        """The quarter asked for (or the run's), computed, decided and stored in the marts."""
        from airflow_settings import scorecard_settings
        from pipelines.build import NoReturns, compute_quarter
        from pipelines.periods import PeriodError, Quarter

        requested = (params or {}).get("quarter")
        with not_retryable(PeriodError, NoReturns):
            if requested:
                quarter = Quarter.parse(requested)
            else:
                quarter = Quarter.for_run(logical_date or getattr(dag_run, "run_after", None) or pendulum.now("UTC"))
            scorecard = compute_quarter(scorecard_settings(), quarter)
        print(f"{quarter.label}: {len(scorecard.exceptions)} exception(s): {', '.join(scorecard.exceptions) or 'none'}")
        from pipelines.commentary import awaited_in, awaiting_line, indicator_names

        print(awaiting_line(awaited_in(scorecard.indicators), indicator_names()))
        return quarter.code

    @task
    def render(quarter: str) -> dict:
        """The quarter's files, from the marts."""
        from airflow_settings import scorecard_settings
        from pipelines.build import render_quarter
        from pipelines.periods import Quarter

        return render_quarter(scorecard_settings(), Quarter.parse(quarter)).to_dict()

    @task
    def email(built: dict) -> str:
        """The scorecard to the sub group, once per build."""
        from airflow_settings import scorecard_settings
        from pipelines.build import email_quarter
        from pipelines.periods import Quarter

        return email_quarter(scorecard_settings(), Quarter.parse(built["quarter"]))

    email(render(compute()))


quarterly_scorecard()
