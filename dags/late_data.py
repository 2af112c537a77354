"""late_data: after any load into the warehouse, notice published figures that changed.

Scheduled on every source's Asset (any one of them: ``partner_intake`` emits an event per
accepted load, through the ``partner-loads`` alias). One task, ``check``, a thin wrapper over
``pipelines.revisions.check_revisions``: every published quarter's figures are computed afresh
and compared with what its scorecard showed; a quarter with a changed figure is republished
(marts and files) without emailing the sub group, the revisions are recorded in the warehouse
(``indicator_revisions``), and the analyst gets one notice listing them (old and new). The next
scorecard's notes list them too.

Safe to retry and to run with nothing new: a republished quarter compares equal, and a notice is
sent once per set of revisions. Several loads while a run is going on make one more run, not one
each. A failure is retried, then emailed to the analyst.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetAny, dag, task
from scorecard_alerts import alert_analyst
from scorecard_assets import every_source_asset

DEFAULT_ARGS = {
    "owner": "lscp-analyst",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "on_failure_callback": [alert_analyst],
}


@dag(
    dag_id="late_data",
    # A list would wait for every source; AssetAny runs after a load of any one.
    schedule=AssetAny(*every_source_asset()),
    start_date=pendulum.datetime(2024, 1, 1, tz="Europe/London"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["lscp", "scorecard", "revisions"],
    doc_md=__doc__,
)
def late_data():
    @task
    def check() -> dict:
        """Compare the published quarters with the warehouse; republish, record and notify."""
        from airflow_settings import scorecard_settings
        from pipelines.revisions import check_revisions

        run = check_revisions(scorecard_settings())
        for line in run.lines():
            print(line)
        return run.to_dict()

    check()


late_data()
