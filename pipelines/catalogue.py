"""The indicator catalogue, read from ``definitions/indicators.yaml``.

The catalogue is data so an analyst changes a target or adds an indicator by editing YAML and
SQL, never Python. The same file orders the priorities (the scorecard's sections), says how each
unit reads after a number and names the benchmark comparators, so every output takes its
words and order from one place. Loading validates every entry and names the bad one, because a
typo in a target or polarity would otherwise surface as a wrong RAG on the board's scorecard.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .resources import definitions_dir, sql_dir
from .spc import DEFAULT_MINIMUM_POINTS, DEFAULT_SHIFT_POINTS, DEFAULT_TREND_POINTS

OBA_QUESTIONS = ("How much did we do?", "How well did we do it?", "Is anyone better off?")
POLARITIES = ("up", "down", "neutral")
FIELDS = (
    "id",
    "name",
    "priority",
    "oba",
    "source",
    "definition",
    "unit",
    "decimals",
    "polarity",
    "target",
    "tolerance",
    "disclosive",
    "scale",
    "sql",
)
OPTIONAL_FIELDS = ("spc", "plain_definition")
SPC_SETTINGS = ("shift_points", "trend_points", "minimum_points")
MONTH_CODE = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


class CatalogueError(ValueError):
    """The catalogue file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class Unit:
    """How a unit reads: ``after_value`` follows a number (``25.7%``, ``3.1 per day``) and
    ``after_change`` a change or a tolerance (``+2.6 pts``: a percentage moves by points)."""

    code: str
    after_value: str
    after_change: str


@dataclass(frozen=True)
class Comparator:
    """A benchmark comparator: its code in ``ref_benchmarks`` and the words people read."""

    code: str
    label: str


@dataclass(frozen=True)
class SpcSettings:
    """An indicator's SPC rule settings (the catalogue's ``spc:`` block, overridden by the
    indicator's own) and the months (``2025-04``) where its process changed, each starting a new
    segment of the series with its own mean and limits (indicators.md)."""

    shift_points: int = DEFAULT_SHIFT_POINTS
    trend_points: int = DEFAULT_TREND_POINTS
    minimum_points: int = DEFAULT_MINIMUM_POINTS
    recalculate_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class Indicator:
    id: str
    name: str
    priority: str
    oba: str
    source: str
    definition: str
    plain_definition: str  # one sentence for people; the technical definition when the yaml has none
    unit: str
    decimals: int
    polarity: str
    target: float | None
    tolerance: float | None
    disclosive: bool
    scale: float | None
    sql: str
    spc: SpcSettings = SpcSettings()
    # The definition as a sentence for people (the HTML and email show it); the technical
    # ``definition`` (column names and all) stays in the JSON and the workbook.

    @property
    def is_count(self) -> bool:
        """A count's value is its numerator; it has no denominator."""
        return self.scale is None

    @property
    def rated(self) -> bool:
        """Only indicators with a better direction and a target get a RAG (and SPC assurance)."""
        return self.polarity in ("up", "down") and self.target is not None

    @property
    def sql_path(self) -> Path:
        return sql_dir() / self.sql


def catalogue_path() -> Path:
    return definitions_dir() / "indicators.yaml"


@lru_cache(maxsize=8)
def _parse(text: str) -> Any:
    return yaml.safe_load(text)


def _read(path: Path | None) -> dict:
    """The catalogue file as parsed YAML. Parsing is cached by the file's text (a build asks for
    the catalogue several times, and parsing takes a noticeable fraction of a second), so an
    edit is always seen; callers get their own copy."""
    path = path or catalogue_path()
    try:
        raw = copy.deepcopy(_parse(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise CatalogueError(f"the indicator catalogue {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise CatalogueError(f"the indicator catalogue {path} is not valid YAML: {exc}") from None
    lists = ("priorities", "units", "comparators", "indicators")
    if not isinstance(raw, dict) or not all(isinstance(raw.get(name), list) for name in lists):
        raise CatalogueError(f"the indicator catalogue {path} must have lists {', '.join(repr(n) for n in lists)}")
    return raw


def load_priorities(path: Path | None = None) -> list[str]:
    """Partnership priorities in the order the scorecard shows them."""
    priorities = _read(path)["priorities"]
    if not all(isinstance(p, str) and p.strip() for p in priorities):
        raise CatalogueError("every entry of 'priorities' must be a non-empty name")
    if len(set(priorities)) != len(priorities):
        raise CatalogueError("'priorities' lists a priority twice")
    return list(priorities)


def _texts(entry: object, where: str, fields: tuple[str, ...], *, empty_ok: tuple[str, ...] = ()) -> dict[str, str]:
    """The named text fields of a small mapping (a unit, a comparator), checked."""
    if not isinstance(entry, dict) or set(entry) != set(fields):
        raise CatalogueError(f"{where} must have exactly the fields {', '.join(fields)}")
    for name in fields:
        value = entry[name]
        if not isinstance(value, str) or (not value.strip() and name not in empty_ok):
            raise CatalogueError(f"{where}: {name} must be text{'' if name in empty_ok else ' (not empty)'}")
        if '"' in value:
            raise CatalogueError(f"{where}: {name} must not contain a double quote")
    return entry


def load_units(path: Path | None = None) -> dict[str, Unit]:
    """Every unit an indicator may have, by code."""
    units: dict[str, Unit] = {}
    for i, entry in enumerate(_read(path)["units"]):
        fields = _texts(
            entry, f"unit #{i + 1}", ("code", "after_value", "after_change"), empty_ok=("after_value", "after_change")
        )
        if fields["code"] in units:
            raise CatalogueError(f"'units' lists {fields['code']!r} twice")
        units[fields["code"]] = Unit(fields["code"], fields["after_value"], fields["after_change"])
    return units


def load_comparators(path: Path | None = None) -> list[Comparator]:
    """Benchmark comparators in the order the outputs list them."""
    comparators: list[Comparator] = []
    for i, entry in enumerate(_read(path)["comparators"]):
        fields = _texts(entry, f"comparator #{i + 1}", ("code", "label"))
        if any(c.code == fields["code"] for c in comparators):
            raise CatalogueError(f"'comparators' lists {fields['code']!r} twice")
        comparators.append(Comparator(fields["code"], fields["label"]))
    return comparators


def _number(value: object, what: str, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CatalogueError(f"{where}: {what} must be a number or null, not {value!r}")
    return float(value)


def _spc_numbers(raw: dict, where: str, defaults: SpcSettings) -> dict[str, int]:
    """The rule settings of an ``spc:`` block, each a whole number of at least 2."""
    out = {}
    for name in SPC_SETTINGS:
        value = raw.get(name, getattr(defaults, name))
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise CatalogueError(f"{where}: spc {name} must be a whole number of at least 2, not {value!r}")
        out[name] = value
    return out


def load_spc_defaults(path: Path | None = None) -> SpcSettings:
    """The catalogue's ``spc:`` block: the rule settings every indicator has unless it says
    otherwise (indicators.md's defaults when the block is absent)."""
    raw = _read(path).get("spc", {})
    if not isinstance(raw, dict) or set(raw) - set(SPC_SETTINGS):
        raise CatalogueError(f"the catalogue's spc block may only set {', '.join(SPC_SETTINGS)}")
    numbers = _spc_numbers(raw, "the catalogue's spc block", SpcSettings())
    return SpcSettings(numbers["shift_points"], numbers["trend_points"], numbers["minimum_points"])


def _spc_settings(raw: object, where: str, defaults: SpcSettings) -> SpcSettings:
    if raw is None:
        return defaults
    allowed = (*SPC_SETTINGS, "recalculate_from")
    if not isinstance(raw, dict) or set(raw) - set(allowed):
        raise CatalogueError(f"{where}: spc may only set {', '.join(allowed)}")
    months = raw.get("recalculate_from", [])
    if not isinstance(months, list) or not all(isinstance(m, str) and MONTH_CODE.match(m) for m in months):
        raise CatalogueError(f"{where}: spc recalculate_from must be a list of months like 2025-04")
    if len(set(months)) != len(months):
        raise CatalogueError(f"{where}: spc recalculate_from lists a month twice")
    numbers = _spc_numbers(raw, where, defaults)
    return SpcSettings(
        numbers["shift_points"], numbers["trend_points"], numbers["minimum_points"], tuple(sorted(months))
    )


def _indicator(
    raw: Any,
    index: int,
    priorities: list[str],
    units: set[str],
    partner_sources: set[str] | None,
    spc_defaults: SpcSettings = SpcSettings(),
) -> Indicator:
    where = f"indicator #{index + 1}"
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where} is not a mapping of fields")
    if raw.get("id"):
        where = f"indicator {raw['id']}"
    missing = [f for f in FIELDS if f not in raw]
    if missing:
        raise CatalogueError(f"{where} lacks field(s): {', '.join(missing)}")
    unknown = sorted(set(raw) - set(FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise CatalogueError(f"{where} has unknown field(s): {', '.join(unknown)}")
    for name in ("id", "name", "priority", "oba", "source", "definition", "unit", "polarity", "sql"):
        if not isinstance(raw[name], str) or not raw[name].strip():
            raise CatalogueError(f"{where}: {name} must be non-empty text")
    plain = raw.get("plain_definition", raw["definition"])
    if not isinstance(plain, str) or not plain.strip():
        raise CatalogueError(f"{where}: plain_definition must be non-empty text")
    if raw["priority"] not in priorities:
        raise CatalogueError(f"{where}: priority {raw['priority']!r} is not one of 'priorities'")
    if raw["oba"] not in OBA_QUESTIONS:
        raise CatalogueError(f"{where}: oba must be one of {', '.join(OBA_QUESTIONS)}")
    if raw["unit"] not in units:
        raise CatalogueError(f"{where}: unit {raw['unit']!r} must be one of 'units': {', '.join(sorted(units))}")
    if raw["polarity"] not in POLARITIES:
        raise CatalogueError(f"{where}: polarity {raw['polarity']!r} must be up, down or neutral")
    if partner_sources is not None and raw["source"] not in partner_sources:
        raise CatalogueError(f"{where}: source {raw['source']!r} is not a partner source")
    decimals = raw["decimals"]
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 6:
        raise CatalogueError(f"{where}: decimals must be a whole number from 0 to 6")
    if not isinstance(raw["disclosive"], bool):
        raise CatalogueError(f"{where}: disclosive must be true or false")
    target = _number(raw["target"], "target", where)
    tolerance = _number(raw["tolerance"], "tolerance", where)
    scale = _number(raw["scale"], "scale", where)
    if target is not None and raw["polarity"] == "neutral":
        raise CatalogueError(f"{where}: a neutral indicator cannot have a target")
    if tolerance is not None and (target is None or tolerance < 0):
        raise CatalogueError(f"{where}: tolerance needs a target and must not be negative")
    if target is not None and tolerance is None:
        raise CatalogueError(f"{where}: a target needs a tolerance (0 for none)")
    if (raw["unit"] == "count") != (scale is None):
        raise CatalogueError(f"{where}: scale must be null for a count and a number otherwise")
    if scale is not None and scale <= 0:
        raise CatalogueError(f"{where}: scale must be positive")
    if not (sql_dir() / raw["sql"]).is_file():
        raise CatalogueError(f"{where}: SQL file {raw['sql']!r} not found under {sql_dir()}")
    return Indicator(
        id=raw["id"],
        name=raw["name"],
        priority=raw["priority"],
        oba=raw["oba"],
        source=raw["source"],
        definition=raw["definition"].strip(),
        unit=raw["unit"],
        decimals=decimals,
        polarity=raw["polarity"],
        target=target,
        tolerance=tolerance,
        disclosive=raw["disclosive"],
        scale=scale,
        sql=raw["sql"],
        spc=_spc_settings(raw.get("spc"), where, spc_defaults),
        plain_definition=" ".join(plain.split()),
    )


def _partner_source_names() -> set[str] | None:
    try:
        from .sources import partner_sources

        return {s.name for s in partner_sources()}
    except Exception:  # source definitions unreadable: the sources module reports that itself
        return None


def load_catalogue(path: Path | None = None) -> list[Indicator]:
    """Every indicator, validated, in catalogue order (the order the scorecard shows)."""
    raw = _read(path)
    priorities = load_priorities(path)
    units = set(load_units(path))
    sources = _partner_source_names()
    spc_defaults = load_spc_defaults(path)
    indicators = [
        _indicator(entry, i, priorities, units, sources, spc_defaults) for i, entry in enumerate(raw["indicators"])
    ]
    seen: set[str] = set()
    for ind in indicators:
        if ind.id in seen:
            raise CatalogueError(f"indicator {ind.id} appears twice in the catalogue")
        seen.add(ind.id)
    return indicators
