"""Run a source's Great Expectations suite (``expectations/<source>.json``) over typed rows.

GX is imported lazily (it is slow to import) and one ephemeral context is reused per process.
Returns, for each sheet row number, the reasons it failed, worded for the data officer from the
suite's own ``meta.reason`` (rules as data), without the values. The suites' parameters come
from the source's definition: ``earliest_date`` from its type rules, ``latest_date`` the end of
today; a reason may name them (``{earliest_date}``: "1 January 2000").
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from datetime import date, datetime, time
from functools import cache, lru_cache, partial
from pathlib import Path

from ..logs import quiet_third_party
from ..resources import expectations_dir
from ..sources import load_sources

ROW = "__row"
_PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\}")


@cache
def _document(folder: Path, source: str) -> dict:
    return json.loads((folder / f"{source}.json").read_text(encoding="utf-8"))


def suite_document(source: str) -> dict:
    """The source's suite in the rules in use (``SCORECARD_RESOURCES``), read once per folder."""
    return _document(expectations_dir(), source)


def _spoken(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


@lru_cache(maxsize=1)
def _context():
    quiet_third_party()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    quiet_third_party()  # again: importing set some of its loggers to INFO
    # GX fingerprints every DataFrame under this size by hashing all its values (seconds for a
    # big file), only to label the batch; nothing here uses that label.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("partner_rows")
        .add_dataframe_asset("rows")
        .add_batch_definition_whole_dataframe("whole_file")
    )
    return gx, batch_definition


def prepare() -> None:
    """Import Great Expectations and make its context now, in this process, so that every child
    forked to check a file inherits them instead of paying seconds for each file."""
    _context()
    import python_calamine  # noqa: F401  (the reader the child uses)


def _suite(gx, source: str, only: set[int] | None = None):
    """The source's suite (or only the expectations at positions ``only``), each expectation's
    position in the document in its ``meta`` (``_POSITION``), to find it again in a result."""
    document = suite_document(source)
    expectations = [
        {**e, "meta": {**e.get("meta", {}), _POSITION: i}}
        for i, e in enumerate(document["expectations"])
        if only is None or i in only
    ]
    return gx.ExpectationSuite(name=document["name"], expectations=expectations)


_POSITION = "scorecard_position"


def _columns_of(kwargs: dict) -> list[str]:
    return [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]


def run_suite(source: str, frame, headers: dict[str, str], today: datetime) -> dict[int, list[tuple[str, str]]]:
    """Sheet row -> [(column, reason)]. ``headers`` maps canonical names to headers as sent.

    Reasons name the columns and the rule, never the value found (which may be a child's
    identifier in a shifted column): values are shown only in the rejects workbook.
    """
    gx, batch_definition = _context()
    earliest = load_sources()[source].earliest_date
    present = set(frame.columns)
    suite = _suite(gx, source)
    # Expectations about columns the file does not have (optional ones) are not applicable.
    for expectation in list(suite.expectations):
        if not set(_columns_of(expectation.configuration.kwargs)) <= present:
            suite.expectations.remove(expectation)
    failures: dict[int, list[tuple[str, str]]] = defaultdict(list)
    if not suite.expectations or frame.empty:
        return failures
    # Only the columns the suite looks at, as its columns or in a row condition (GX copies and
    # scans what it is given).
    said = " ".join(str(v) for e in suite.expectations for v in e.configuration.kwargs.values())
    frame = frame[[c for c in frame.columns if c == ROW or re.search(rf"\b{re.escape(c)}\b", said)]]
    parameters = {
        "earliest_date": datetime.combine(earliest, time.min),
        "latest_date": datetime.combine(today.date(), time.max),
    }
    # First only whether each expectation holds (half the time of listing every failing row);
    # then, only when some do not, those again with every failing row.
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, expectation_parameters=parameters, result_format="BOOLEAN_ONLY")
    failed = {int(outcome.expectation_config.meta[_POSITION]) for outcome in _outcomes(result) if not outcome.success}
    if not failed:
        return failures
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        _suite(gx, source, only=failed),
        expectation_parameters=parameters,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW]},
    )
    for outcome in _outcomes(result):
        config = outcome.expectation_config
        if outcome.success:
            continue
        column = _columns_of(config.kwargs)[0]
        named = {**headers, "earliest_date": _spoken(earliest)}
        reason = _PLACEHOLDER.sub(partial(_named, named), config.meta.get("reason", config.type))
        for item in outcome.result.get("unexpected_index_list") or []:
            failures[int(item[ROW])].append((column, reason))
    return failures


def _outcomes(result):
    """The result's outcomes, or the error of an expectation that could not run."""
    for outcome in result.results:
        if outcome.exception_info and outcome.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"expectation {outcome.expectation_config.type} could not run: "
                f"{outcome.exception_info.get('exception_message')}"
            )
        yield outcome


def _named(names: dict[str, str], match: re.Match) -> str:
    """A reason's ``{placeholder}`` as the data officer knows it (the header as sent, a date)."""
    return names.get(match.group(1), match.group(1))
