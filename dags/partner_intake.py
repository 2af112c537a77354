"""partner_intake: every 5 minutes, process the files in the inbox.

Thin wrapper over ``pipelines.intake``. The inbox is split into ``INTAKE_PARTS`` parts by a
stable hash of each file's path, and one mapped task processes each part, file after file, in
one process: Airflow's start-up and the Great Expectations import are paid once per part, not
once per file, and the parts run side by side on the workers. Part 1 first finishes what a run
that died left half done, sends mail queued during an outage and applies retention. Each file's
outcome is a line of its part's log.

A file's own problems end in a rejection receipt, not a task failure, so one bad file never
fails the others and is never retried; only faults outside the files (the warehouse unreachable
or refusing a load) fail a task, and those are retried, then the analyst is alerted. Each
accepted load emits an Asset event for its source (``scorecard_assets``), through the
``partner-loads`` alias.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import AssetAlias, dag, task
from scorecard_alerts import alert_analyst
from scorecard_assets import source_asset

LOADS = AssetAlias("partner-loads")
# Parts processed side by side: the machine's cores (the reference machine has 2).
INTAKE_PARTS = int(os.environ.get("SCORECARD_INTAKE_PARTS") or min(4, os.cpu_count() or 1))
DEFAULT_ARGS = {
    "owner": "lscp-analyst",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "on_failure_callback": [alert_analyst],
}


@dag(
    dag_id="partner_intake",
    schedule="*/5 * * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="Europe/London"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["lscp", "intake"],
    doc_md=__doc__,
)
def partner_intake():
    @task(
        outlets=[LOADS],
        map_index_template="part {{ task.op_kwargs['part'] + 1 }} of {{ task.op_kwargs['parts'] }}",
        max_active_tis_per_dagrun=INTAKE_PARTS,
    )
    def intake(part: int, parts: int, outlet_events=None) -> list[dict]:
        """Process this part's share of the inbox; one log line per file."""
        from airflow_settings import scorecard_settings
        from pipelines.intake import run_intake

        settings = scorecard_settings()
        run = run_intake(
            settings,
            part=(part, parts),
            with_housekeeping=part == 0,
            progress=lambda i, n, outcome: print(f"[{i}/{n}] {outcome.line()}", flush=True),
        )
        errors = [o for o in run.outcomes if o.status == "error"]
        for outcome in run.accepted:
            assert outcome.source is not None  # an accepted file was identified
            outlet_events[LOADS].add(
                source_asset(outcome.source),
                extra={"load_id": outcome.load_id, "rows": outcome.rows_loaded, "file": outcome.file},
            )
        if not run.outcomes:
            print("No files ready in this part of the inbox")
        if errors:  # the warehouse refused a load: retry, then alert (the files stay in the inbox)
            raise RuntimeError(f"{len(errors)} file(s) could not be loaded and stay in the inbox: {errors[0].message}")
        return [o.to_dict() for o in run.outcomes]

    intake.partial(parts=INTAKE_PARTS).expand(part=list(range(INTAKE_PARTS)))


partner_intake()
