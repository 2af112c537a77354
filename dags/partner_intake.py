"""partner_intake: every 5 minutes, process each file in the inbox (one mapped task per file).

Thin wrapper over ``pipelines.intake``. A file's own problems end in a rejection receipt, not a
task failure, so one bad file never fails the others and is never retried; only faults outside
the file (the warehouse unreachable or refusing the load) fail the task, and those are retried.
Each accepted load emits an Asset event for its source (``scorecard://warehouse/<source>``),
through the ``partner-loads`` alias, so downstream DAGs can be scheduled on fresh data.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, AssetAlias, dag, task

LOADS = AssetAlias("partner-loads")
DEFAULT_ARGS = {"owner": "lscp-analyst", "retries": 3, "retry_delay": timedelta(minutes=2)}


def source_asset(source: str) -> Asset:
    return Asset(name=f"stg_{source}", uri=f"scorecard://warehouse/{source}", group="partner_data")


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
    @task
    def list_inbox() -> list[str]:
        """Housekeeping (queued mail, retention), then the files ready to process."""
        from airflow_settings import scorecard_settings
        from pipelines.intake import housekeeping, pending_files
        from pipelines.warehouse import open_warehouse

        settings = scorecard_settings()
        settings.ensure_folders()
        settings.check_writable()  # an unwritable archive/ stops here, before any file is touched
        with open_warehouse(settings.warehouse_url) as engine:
            housekeeping(settings, engine)
        return [str(p) for p in pending_files(settings.inbox, settings.settle_seconds)]

    @task(outlets=[LOADS], map_index_template="{{ task.op_kwargs['path'].rsplit('/', 1)[-1] }}")
    def process(path: str, outlet_events=None) -> dict:
        import os
        from pathlib import Path

        from airflow_settings import scorecard_settings
        from pipelines.intake import process_file, require_key
        from pipelines.warehouse import open_warehouse

        settings = scorecard_settings()
        require_key(settings.pseudonym_key)
        file = Path(path)
        if not os.path.lexists(file):  # taken by another run meanwhile
            return {"file": file.name, "status": "gone"}
        settings.ensure_folders()
        settings.check_writable()
        with open_warehouse(settings.warehouse_url) as engine:
            result = process_file(settings, engine, file)
        if result is None:  # another run holds this content and will finish it
            return {"file": file.name, "status": "taken by another run"}
        outcome = result.to_dict()
        if outcome["status"] == "error":  # the warehouse refused it: retry, then alert
            raise RuntimeError(f"{file.name}: {outcome['message']}")
        if outcome["status"] == "accepted":
            outlet_events[LOADS].add(
                source_asset(outcome["source"]),
                extra={"load_id": outcome["load_id"], "rows": outcome["rows_loaded"], "file": outcome["file"]},
            )
        return outcome

    process.expand(path=list_inbox())


partner_intake()
