"""portal_reminders: every day at 09:00 (UK time), remind the data officers of late returns.

One task, ``remind``, a thin wrapper over ``pipelines.reminders.send_reminders``: for the last
complete quarter, each partner source whose return has not been received by its due date (the
source's ``due_days`` after the quarter ends) has each active data officer on the portal emailed
once, with a link to the portal's returns and check pages (or, with no portal officer, the
source's address in the ``scorecard_data_officers`` variable). Every reminder is recorded in the
warehouse (``portal_reminders``) before it is sent, so a rerun or a retry never sends one twice.

Mail goes through Airflow's ``smtp_default`` connection; the portal's address in the emails is
``SCORECARD_PORTAL_URL``. A failure is retried, then emailed to the analyst.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task
from scorecard_alerts import alert_analyst

SCHEDULE = CronTriggerTimetable("0 9 * * *", timezone="Europe/London")

DEFAULT_ARGS = {
    "owner": "lscp-analyst",
    "retries": 2,
    "retry_delay": timedelta(minutes=10),
    "on_failure_callback": [alert_analyst],
}


@dag(
    dag_id="portal_reminders",
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2024, 1, 1, tz="Europe/London"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["lscp", "portal", "reminders"],
    doc_md=__doc__,
)
def portal_reminders():
    @task
    def remind(logical_date=None, dag_run=None) -> dict:
        """Email each late return's data officers, once per quarter and source."""
        from airflow_settings import scorecard_settings
        from pipelines.periods import UK
        from pipelines.reminders import send_reminders

        moment = logical_date or getattr(dag_run, "run_after", None) or pendulum.now("UTC")
        run = send_reminders(scorecard_settings(), today=moment.astimezone(UK).date())
        for line in run.lines():
            print(line)
        return run.to_dict()

    remind()


portal_reminders()
