"""quarterly_scorecard: at 06:00 (UK time) on the 15th day after each financial quarter ends,
build the quarter that has just ended and email it to the Performance Management Sub Group.

A manual run may name any quarter with the ``quarter`` parameter (e.g. ``2024-25Q1``); without
one it builds the latest quarter that ended before the run. Thin wrapper over ``pipelines.build``.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task
from airflow.timetables.trigger import CronTriggerTimetable

DEFAULT_ARGS = {"owner": "lscp-analyst", "retries": 2, "retry_delay": timedelta(minutes=10)}


@dag(
    dag_id="quarterly_scorecard",
    # Quarters end 30 Jun, 30 Sep, 31 Dec, 31 Mar; the 15th day after is the 15th of the next month.
    schedule=CronTriggerTimetable("0 6 15 1,4,7,10 *", timezone="Europe/London"),
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
            return Quarter.parse(requested).code
        moment = logical_date or getattr(dag_run, "run_after", None) or pendulum.now("Europe/London")
        local = pendulum.instance(moment).in_timezone("Europe/London")
        return Quarter.latest_complete(local.date()).code

    @task
    def build(quarter: str) -> dict:
        from pipelines.build import build_quarter
        from pipelines.config import load_settings
        from pipelines.periods import Quarter

        return build_quarter(load_settings(), Quarter.parse(quarter), email=True).to_dict()

    build(choose_quarter())


quarterly_scorecard()
