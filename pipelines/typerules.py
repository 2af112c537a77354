"""How a source's values are written: yes/no spellings, date formats, month names, earliest date.

These are rules as data (sources.md "Types"): named sets in ``definitions/types.yaml`` that a
source's own file refers to (``types: standard``), or changes in part
(``types: {from: standard, date_formats: [...]}``). Each rule is written once: the shared set
owns it unless a source's file says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from .dateformats import DateReader, FormatError

KEYS = (
    "true_values",
    "false_values",
    "date_formats",
    "time_formats",
    "time_separators",
    "month_names",
    "earliest_date",
)


class RulesError(ValueError):
    """A rules file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class TypeRules:
    true_values: tuple[str, ...]  # as written in the rules (for the reason's "use Y/N, ...")
    false_values: tuple[str, ...]
    date_formats: tuple[str, ...]
    time_formats: tuple[str, ...]
    time_separators: tuple[str, ...]
    month_names: tuple[tuple[str, ...], ...]
    earliest_date: date  # dates before it are implausible (the suites' ``earliest_date``)
    truth: dict[str, bool] = field(init=False, repr=False, compare=False)  # lower-case spelling -> value
    dates: DateReader = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        truth: dict[str, bool] = {}
        for value, spellings in ((True, self.true_values), (False, self.false_values)):
            for spelling in spellings:
                if truth.setdefault(spelling.strip().lower(), value) != value:
                    raise RulesError(f"{spelling!r} is given as both true and false")
        object.__setattr__(self, "truth", truth)
        object.__setattr__(
            self, "dates", DateReader(self.date_formats, self.time_formats, self.time_separators, self.month_names)
        )

    def yes_no_hint(self) -> str:
        """The spellings for a reason, in pairs: ``Y/N, Yes/No, True/False or 1/0``. A pair of
        initials of a pair listed before it (T/F after True/False) goes without saying."""
        if len(self.true_values) != len(self.false_values):
            return f"{_listed(list(self.true_values))} for yes, {_listed(list(self.false_values))} for no"
        pairs: list[tuple[str, str]] = []
        for yes, no in zip(self.true_values, self.false_values):
            if not any(
                len(yes) == len(no) == 1 and (yes.lower(), no.lower()) == (t[0].lower(), f[0].lower()) for t, f in pairs
            ):
                pairs.append((yes, no))
        return _listed([f"{yes}/{no}" for yes, no in pairs])


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _texts(value: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise RulesError(f"{where}: {key} must be a non-empty list")
    for item in value:
        if not isinstance(item, str) or not item:
            hint = (
                " (quote it: YAML reads a bare Yes, No, True or False as a yes/no, not as text)"
                if isinstance(item, bool)
                else ""
            )
            raise RulesError(f"{where}: {key} holds {item!r}, which is not text{hint}")
    return tuple(value)


def _date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise RulesError(f"{where}: earliest_date must be a date written as 2000-01-01") from None


def build(raw: dict, where: str) -> TypeRules:
    """One complete set of rules (every key present)."""
    missing = [k for k in KEYS if k not in raw]
    if missing:
        raise RulesError(f"{where} lacks {', '.join(missing)}")
    months = raw["month_names"]
    if not isinstance(months, list):
        raise RulesError(f"{where}: month_names must be a list of twelve lists of names")
    fields = dict(
        true_values=_texts(raw["true_values"], where, "true_values"),
        false_values=_texts(raw["false_values"], where, "false_values"),
        date_formats=_texts(raw["date_formats"], where, "date_formats"),
        time_formats=_texts(raw["time_formats"], where, "time_formats") if raw["time_formats"] else (),
        time_separators=_texts(raw["time_separators"], where, "time_separators") if raw["time_separators"] else (),
        month_names=tuple(_texts(m, where, "month_names") for m in months),
        earliest_date=_date(raw["earliest_date"], where),
    )
    try:
        return TypeRules(**fields)  # type: ignore[arg-type]
    except (FormatError, RulesError) as exc:
        raise RulesError(f"{where}: {exc}") from None


def read_sets(path: Path) -> dict[str, dict]:
    """The named sets of ``types.yaml``, as written (each a mapping of the keys above)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"{path} does not exist: the source definitions refer to its sets of type rules") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise RulesError(f"{path} must be a mapping of set names to rules")
    for name, rules in raw.items():
        unknown = sorted(set(rules) - set(KEYS))
        if unknown:
            raise RulesError(f"{path}: set {name!r} has unknown key(s) {', '.join(map(str, unknown))}")
        build(rules, f"{path}, set {name!r}")  # each set is checked here, named as itself
    return raw


def resolve(spec: Any, sets: dict[str, dict], where: str) -> TypeRules:
    """A source's ``types``: the name of a set, or ``{from: <set>, <key>: <its own value>...}``."""
    if isinstance(spec, str):
        spec = {"from": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("from"), str):
        raise RulesError(
            f"{where}: types must name a set of definitions/types.yaml (types: standard), "
            "or be a mapping with 'from: <set>' and the keys it changes"
        )
    if spec["from"] not in sets:
        raise RulesError(
            f"{where}: types set {spec['from']!r} is not in definitions/types.yaml (it has {', '.join(sorted(sets))})"
        )
    own = {k: v for k, v in spec.items() if k != "from"}
    unknown = sorted(set(own) - set(KEYS))
    if unknown:
        raise RulesError(f"{where}: types has unknown key(s) {', '.join(map(str, unknown))}")
    return build({**sets[spec["from"]], **own}, where)
