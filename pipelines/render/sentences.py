"""Plain-English sentences about the scorecard: the exceptions and the email subject.

The PMSG asked for performance information that is "simplified and more accessible", so the
scorecard leads with one sentence per exception: the value and its movement, the target and
tolerance, and what the SPC chart is signalling. Every fact in a sentence is one the build
decided (the exception, the rating, the movement, suppression, and each SPC rule with its side
and run length); this module only words them.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..catalogue import Unit
from ..disclosure import SUPPRESSED
from ..model import Figure, IndicatorResult, Revision, Scorecard
from ..spc import (
    COMMON,
    CONCERN,
    FAIL,
    HIGH,
    HIGH_SIDE,
    IMPROVEMENT,
    INSUFFICIENT,
    LOW,
    LOW_SIDE,
    OUTSIDE,
    SHIFT,
    TREND,
    TWO_OF_THREE,
    Signal,
)
from .formatting import format_value
from .labels import data_status_word

MOVEMENT_VERBS = {"up": "rose to", "down": "fell to", "same": "stayed at", None: "stood at"}


def subject_for(scorecard: Scorecard) -> str:
    """``LSCP performance scorecard 2024-25 Q1: 3 exceptions`` (``1 exception`` singular)."""
    count = len(scorecard.exceptions)
    noun = "exception" if count == 1 else "exceptions"
    return f"LSCP performance scorecard {scorecard.label}: {count} {noun}"


def figure_text(figure: Figure, unit: Unit, decimals: int) -> str:
    """A headline figure as the scorecard showed it: ``5,460``, ``25.7%``, ``c``, or why there was
    none (``missing return``, ``no data``)."""
    if figure.value is None:
        return data_status_word(figure.data_status).lower()
    if figure.suppressed:
        return SUPPRESSED
    return format_value(figure.value, unit, decimals)


def revision_sentence(revision: Revision) -> str:
    """``DA01 for 2024-25 Q1 was revised from 5,460 to 5,512``: a published figure that later
    data changed, for the notes of the next scorecard and the analyst's notice."""
    old = figure_text(revision.old, revision.unit, revision.decimals)
    new = figure_text(revision.new, revision.unit, revision.decimals)
    return f"{revision.indicator_id} for {revision.label} was revised from {old} to {new}"


def exception_sentences(scorecard: Scorecard) -> list[tuple[str, str]]:
    """``(indicator id, sentence)`` for each exception, in the scorecard's order."""
    return [(i.id, exception_sentence(i)) for i in scorecard.indicators if i.exception]


def exception_sentence(indicator: IndicatorResult) -> str:
    """One sentence: movement and value, position against target, then the SPC signal."""
    name = indicator.name
    target = target_clause(indicator)
    if indicator.value is None:
        body = f"{name} had no value this quarter ({data_status_word(indicator.data_status).lower()})"
    elif indicator.suppressed:
        # Never the value, nor its movement: either could identify the children concerned.
        # ("came in" and "stood at" read right whether the name is singular or plural.)
        if target:
            body = f"{name} came in {target} (figure suppressed to protect the children concerned)"
        else:
            body = f"{name}: figure suppressed to protect the children concerned"
    else:
        shown = format_value(indicator.value, indicator.unit, indicator.decimals)
        body = f"{name} {MOVEMENT_VERBS[indicator.movement]} {shown}"
        if target:
            body += f", {target}"
    spc = spc_clause(indicator)
    return body + (f"; {spc}" if spc else "") + "."


def target_clause(indicator: IndicatorResult) -> str:
    """Where the value sits against the target, by the RAG already judged on it."""
    if indicator.target is None or indicator.rag not in ("red", "amber", "green"):
        return ""
    target = format_value(indicator.target, indicator.unit, indicator.decimals, trim=True)
    good_side, wrong_side = ("above", "below") if indicator.polarity == "up" else ("below", "above")
    if indicator.rag == "red":
        return f"{wrong_side} the {target} target and outside tolerance"
    if indicator.rag == "amber":
        return f"{wrong_side} the {target} target but within tolerance"
    return f"at or {good_side} the {target} target"


def spc_clause(indicator: IndicatorResult) -> str:
    """What the SPC chart says, worded from the variation and the rules the latest month meets
    (as ``pipelines.spc.analyse`` returned them). When rules of both sides hold (``conflict``)
    Making Data Count shows improvement (or high); the sentence names both."""
    spc = indicator.spc
    variation = spc.variation
    if spc.conflict and variation in (IMPROVEMENT, HIGH, LOW):
        shown_side = _shown_side(indicator)
        shown = _join([signal_words(s) for s in spc.signals if s.side == shown_side])
        other = _join([signal_words(s) for s in spc.signals if s.side != shown_side])
        if variation == IMPROVEMENT:
            return (
                f"the monthly figures signal both ways, shown as special cause improvement ({shown}) although {other}"
            )
        word = "high" if variation == HIGH else "low"
        return f"the monthly figures signal both ways, shown as unusually {word} ({shown}) although {other}"
    detail = _join(spc_signals(indicator))
    if variation == CONCERN:
        return detail or "the monthly figures show special cause concern"
    if variation == IMPROVEMENT:
        return "although the monthly figures show special cause improvement" + (f" ({detail})" if detail else "")
    if variation == HIGH:
        return "the monthly figures are unusually high" + (f" ({detail})" if detail else "")
    if variation == LOW:
        return "the monthly figures are unusually low" + (f" ({detail})" if detail else "")
    if variation == COMMON:
        text = "the monthly figures vary only within their usual range (common cause variation)"
        if spc.assurance == FAIL:
            text += ", so the target will not be met consistently without a change in approach"
        return text
    if variation == INSUFFICIENT:
        return "too few months of data to judge variation"
    return ""


def _shown_side(indicator: IndicatorResult) -> str:
    """The side Making Data Count shows when both hold: the good one (high for a neutral)."""
    return LOW_SIDE if indicator.polarity == "down" else HIGH_SIDE


def spc_signals(indicator: IndicatorResult) -> list[str]:
    """Each rule the latest month meets, in plain words, in the order the SPC function gave."""
    return [signal_words(s) for s in indicator.spc.signals]


NUMBER_WORDS = (
    "no",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
)


def number_word(n: int) -> str:
    """``six``; figures above twenty (``24``)."""
    return NUMBER_WORDS[n] if 0 <= n < len(NUMBER_WORDS) else str(n)


def signal_words(signal: Signal) -> str:
    """A rule in plain English: "six months in a row above average", "six months rising in a
    row", "two of the last three months close to the upper limit"."""
    high = signal.side == HIGH_SIDE
    count = number_word(signal.length)
    if signal.rule == OUTSIDE:
        return f"the latest month is {'above the upper' if high else 'below the lower'} limit"
    if signal.rule == SHIFT:
        return f"{count} months in a row {'above' if high else 'below'} average"
    if signal.rule == TREND:
        return f"{count} months {'rising' if high else 'falling'} in a row"
    if signal.rule == TWO_OF_THREE:
        return f"{count} of the last three months close to the {'upper' if high else 'lower'} limit"
    return f"special cause ({signal.name})"


def _join(parts: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
