"""The warehouse's data as Airflow Assets: one per source (``stg_<source>`` or ``ref_<source>``),
in the ``partner_data`` group. ``partner_intake`` emits an event for a source each time a file of
it is loaded; ``late_data`` is scheduled on them all, so every asset is in use (active) and
listed, population and benchmarks included."""

from __future__ import annotations

from airflow.sdk import Asset

from pipelines.sources import load_sources

GROUP = "partner_data"


def source_asset(source: str) -> Asset:
    table = load_sources()[source].table if source in load_sources() else f"stg_{source}"
    return Asset(name=table, uri=f"scorecard://warehouse/{source}", group=GROUP)


def every_source_asset() -> list[Asset]:
    return [source_asset(name) for name in load_sources()]
