"""Source definitions (columns, types, aliases, keys) loaded from ``definitions/sources/*.yaml``.

The YAML files are the single place an analyst edits to add a header alias or an enum synonym.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import yaml

from .resources import definitions_dir

_HEADER_NOISE = re.compile(r"[\s_\-./()?:#]+")

TYPES = {"text", "int", "number", "date", "datetime", "bool", "enum"}


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
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    period_column: str | None = None

    @property
    def table(self) -> str:
        return f"{'stg' if self.kind == 'partner' else 'ref'}_{self.name}"

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


def _column(raw: dict) -> Column:
    if raw.get("type") not in TYPES:
        raise ValueError(f"column {raw.get('name')!r} has unknown type {raw.get('type')!r}")
    return Column(
        name=raw["name"],
        type=raw["type"],
        required=bool(raw.get("required", False)),
        personal=bool(raw.get("personal", False)),
        aliases=tuple(raw.get("aliases") or ()),
        minimum=raw.get("min"),
        maximum=raw.get("max"),
        values={k: tuple(v or ()) for k, v in (raw.get("values") or {}).items()},
    )


@lru_cache(maxsize=1)
def load_sources() -> dict[str, Source]:
    """Every source, partner sources first, in a stable order."""
    sources = []
    for path in sorted(definitions_dir().glob("sources/*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        sources.append(
            Source(
                name=raw["source"],
                title=raw.get("title", raw["source"]),
                agency=raw.get("agency", ""),
                kind=raw.get("kind", "partner"),
                key=tuple(raw["key"]),
                columns=tuple(_column(c) for c in raw["columns"]),
                period_column=raw.get("period_column"),
            )
        )
    order = ["police_domestic_incidents", "csws_referrals", "school_attendance", "missing_episodes"]
    sources.sort(key=lambda s: (s.kind != "partner", order.index(s.name) if s.name in order else 99, s.name))
    return {s.name: s for s in sources}


def partner_sources() -> list[Source]:
    return [s for s in load_sources().values() if s.kind == "partner"]


@lru_cache(maxsize=1)
def known_headers() -> frozenset[str]:
    """Every header (normalised) that names a column of any source: what makes a row look like a
    header row, to the csv reader and to the receipt's "Headers found"."""
    return frozenset(key for source in load_sources().values() for column in source.columns for key in column.header_keys)
