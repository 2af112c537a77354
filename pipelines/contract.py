"""The ``scorecard.json`` contract check: a build publishes nothing the schema rejects.

``schemas/scorecard.schema.json`` is the contract partners' tools read against; checking every
scorecard against it before any file is written turns a catalogue slip (an indicator id the
contract does not allow, a comparator or unit it does not know) into a failed build with one
clear line, instead of a published file that breaks whoever reads it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from .resources import resource_root

SCHEMA_NAME = "scorecard.schema.json"


class ContractError(ValueError):
    """The scorecard does not match the published schema; the message says where and why."""


def schema_path() -> Path:
    """The schema beside the rule data (a checkout, or ``SCORECARD_RESOURCES``), else beside the
    package's source."""
    for root in (resource_root(), Path(__file__).resolve().parent.parent):
        candidate = root / "schemas" / SCHEMA_NAME
        if candidate.is_file():
            return candidate
    raise ContractError(f"the scorecard contract schemas/{SCHEMA_NAME} is not installed beside {resource_root()}")


@lru_cache(maxsize=4)
def _validator(path: str, mtime_ns: int) -> Draft202012Validator:
    return Draft202012Validator(json.loads(Path(path).read_text(encoding="utf-8")))


def check_contract(document: dict[str, Any]) -> None:
    """Raise ``ContractError`` naming the first problems if ``document`` breaks the schema."""
    path = schema_path()
    validator = _validator(str(path), path.stat().st_mtime_ns)
    errors = list(validator.iter_errors(document))
    if errors:
        where = "; ".join(f"{_where(e.absolute_path)}: {e.message}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise ContractError(
            f"the scorecard for {document.get('quarter', '?')} does not match {path.name}, so nothing was "
            f"published: {where}{more}"
        )


def _where(path: Any) -> str:
    """``indicators[3].rag`` from a JSON path."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the document"
