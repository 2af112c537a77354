"""Source definitions loaded from ``definitions/sources/<source>.yaml``.

A source's file is the one place for its columns, types, header aliases, enum synonyms, key, the
columns its period is found by and its place in the source order; its type rules (yes/no
spellings, date formats, earliest date) are a named set of ``definitions/types.yaml`` that the
file refers to or changes (``typerules.py``). Its row rules are ``expectations/<source>.json``.
Everything else (the warehouse table, the return query, identification) is derived from these.

Loaded once per rules folder (``SCORECARD_RESOURCES``): a test or a partnership's own rules
folder gets its own sources, tables and suites.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .resources import resource_root
from .typerules import RulesError, TypeRules, read_sets, resolve

_HEADER_NOISE = re.compile(r"[\s_\-./()?:#]+")
_NAME = re.compile(r"[a-z][a-z0-9_]*")  # source and column names become SQL identifiers

TYPES = {"text", "int", "number", "date", "datetime", "bool", "enum"}
KINDS = {"partner": "stg", "reference": "ref"}
DEFAULT_DUE_DAYS = 30  # when a source's definition does not say (`due_days`)
_SOURCE_KEYS = {"source", "title", "agency", "kind", "order", "key", "period", "types", "columns", "due_days"}
_COLUMN_KEYS = {"name", "type", "required", "personal", "aliases", "min", "max", "values"}


class SourceError(RulesError):
    """A source definition is malformed; the message names the file and the key."""


def normalise_header(text: object) -> str:
    """Headers match ignoring case, surrounding space and `` _-./()?:#``."""
    if text is None:
        return ""
    return _HEADER_NOISE.sub("", str(text)).lower()


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    personal: bool = False
    aliases: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rules: TypeRules | None = None  # its source's type rules: how dates and yes/no are written

    @property
    def header_keys(self) -> frozenset[str]:
        return frozenset(normalise_header(a) for a in (self.name, *self.aliases))

    @property
    def enum_lookup(self) -> dict[str, str]:
        """Normalised spelling -> canonical value, for enum columns."""
        lookup: dict[str, str] = {}
        for canonical, synonyms in self.values.items():
            for spelling in (canonical, *synonyms):
                lookup[normalise_header(spelling)] = canonical
        return lookup


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    agency: str
    kind: str
    order: int  # place in the source order: identification, receipts, the scorecard's returns
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    rules: TypeRules
    period_column: str | None = None  # the event date: which period a row belongs to
    period_also: tuple[str, ...] = ()  # other dates an indicator selects a period by
    due_days: int = DEFAULT_DUE_DAYS  # a quarter's return is due this many days after the quarter ends

    @property
    def table(self) -> str:
        return f"{KINDS[self.kind]}_{self.name}"

    @property
    def period_columns(self) -> tuple[str, ...]:
        """Every column a period is found by (each is indexed in the warehouse)."""
        return ((self.period_column,) if self.period_column else ()) + self.period_also

    @property
    def earliest_date(self) -> date:
        return self.rules.earliest_date

    @property
    def required(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def match_header(self, cell: object) -> str | None:
        key = normalise_header(cell)
        if not key:
            return None
        for c in self.columns:
            if key in c.header_keys:
                return c.name
        return None


def _names(value: Any, where: str, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourceError(f"{where}: {what} must be a list of names")
    return tuple(value)


def _column(raw: Any, rules: TypeRules, where: str) -> Column:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not _NAME.fullmatch(raw["name"]):
        raise SourceError(f"{where}: every column needs a name of lower-case letters, digits and _")
    where = f"{where}, column {raw['name']}"
    unknown = sorted(set(raw) - _COLUMN_KEYS)
    if unknown:
        raise SourceError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
    if raw.get("type") not in TYPES:
        raise SourceError(f"{where}: unknown type {raw.get('type')!r} (one of {', '.join(sorted(TYPES))})")
    values = raw.get("values") or {}
    if raw["type"] == "enum" and (not isinstance(values, dict) or not values):
        raise SourceError(f"{where}: an enum lists its values (values: {{value: [synonyms]}})")
    return Column(
        name=raw["name"],
        type=raw["type"],
        required=bool(raw.get("required", False)),
        personal=bool(raw.get("personal", False)),
        aliases=tuple(str(a) for a in raw.get("aliases") or ()),
        minimum=raw.get("min"),
        maximum=raw.get("max"),
        values={str(k): tuple(str(s) for s in v or ()) for k, v in values.items()},
        rules=rules,
    )


def _period(raw: Any, names: set[str], kind: str, where: str) -> tuple[str | None, tuple[str, ...]]:
    if raw is None:
        if kind == "partner":
            raise SourceError(f"{where}: a partner source needs period: {{column: <its event date>}}")
        return None, ()
    if not isinstance(raw, dict) or not isinstance(raw.get("column"), str) or set(raw) - {"column", "also"}:
        raise SourceError(f"{where}: period must be {{column: <date column>, also: [<other date columns>]}}")
    also = _names(raw.get("also") or [], where, "period: also")
    for name in (raw["column"], *also):
        if name not in names:
            raise SourceError(f"{where}: period column {name!r} is not one of its columns")
    return raw["column"], also


def _source(path: Path, sets: dict[str, dict]) -> Source:
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SourceError(f"{where} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise SourceError(f"{where} must be a mapping")
    unknown = sorted(set(raw) - _SOURCE_KEYS)
    missing = sorted({"source", "kind", "order", "key", "types", "columns"} - set(raw))
    if unknown or missing:
        raise SourceError(
            f"{where}: "
            + "; ".join(
                ([f"unknown key(s) {', '.join(map(str, unknown))}"] if unknown else [])
                + ([f"lacks {', '.join(missing)}"] if missing else [])
            )
        )
    name = raw["source"]
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name != path.stem:
        raise SourceError(f"{where}: source must be the file's name ({path.stem}), in lower-case letters, digits and _")
    if raw["kind"] not in KINDS:
        raise SourceError(f"{where}: kind must be partner or reference")
    if isinstance(raw["order"], bool) or not isinstance(raw["order"], int):
        raise SourceError(f"{where}: order must be a whole number (its place in the source order)")
    rules = resolve(raw["types"], sets, where)
    if not isinstance(raw["columns"], list) or not raw["columns"]:
        raise SourceError(f"{where}: columns must be a non-empty list")
    columns = tuple(_column(c, rules, where) for c in raw["columns"])
    names = {c.name for c in columns}
    if len(names) != len(columns):
        raise SourceError(f"{where}: a column name appears twice")
    key = _names(raw["key"], where, "key")
    if not key or not set(key) <= names:
        raise SourceError(f"{where}: key must list some of its columns")
    period_column, period_also = _period(raw.get("period"), names, raw["kind"], where)
    due_days = raw.get("due_days", DEFAULT_DUE_DAYS)
    if isinstance(due_days, bool) or not isinstance(due_days, int) or not 0 <= due_days <= 366:
        raise SourceError(f"{where}: due_days must be a whole number of days from 0 to 366 (after the quarter ends)")
    return Source(
        name=name,
        title=str(raw.get("title", name)),
        agency=str(raw.get("agency", "")),
        kind=raw["kind"],
        order=raw["order"],
        key=key,
        columns=columns,
        rules=rules,
        period_column=period_column,
        period_also=period_also,
        due_days=due_days,
    )


@cache
def sources_at(root: Path) -> dict[str, Source]:
    """Every source of the rules folder ``root``, in the source order (``order`` in each file)."""
    definitions = root / "definitions"
    sets = read_sets(definitions / "types.yaml")
    sources = sorted(
        (_source(p, sets) for p in sorted(definitions.glob("sources/*.yaml"))), key=lambda s: (s.order, s.name)
    )
    for before, after in zip(sources, sources[1:]):
        if before.order == after.order:
            raise SourceError(
                f"{definitions / 'sources'}: sources {before.name} and {after.name} have the same order ({after.order})"
            )
    return {s.name: s for s in sources}


def load_sources() -> dict[str, Source]:
    """Every source of the rules in use (``SCORECARD_RESOURCES``, or the project's own)."""
    return sources_at(resource_root())


def partner_sources() -> list[Source]:
    return [s for s in load_sources().values() if s.kind == "partner"]


@cache
def _known_headers(root: Path) -> frozenset[str]:
    return frozenset(
        key for source in sources_at(root).values() for column in source.columns for key in column.header_keys
    )


def known_headers() -> frozenset[str]:
    """Every header (normalised) that names a column of any source: what makes a row look like a
    header row, to the csv reader and to the receipt's "Headers found"."""
    return _known_headers(resource_root())


@cache
def _type_rules(root: Path) -> tuple[TypeRules, ...]:
    return tuple(dict.fromkeys(s.rules for s in sources_at(root).values()))


def every_type_rules() -> tuple[TypeRules, ...]:
    """The distinct type rules of all sources (usually one set): what reads as a value in some
    source, for telling a header row from a data row before the source is known."""
    return _type_rules(resource_root())
