"""Plain-English sentences about the scorecard: the exceptions and the email subject.

The PMSG asked for performance information that is "simplified and more accessible", so the
scorecard leads with one sentence per exception, written from the data: the value and its
movement, the target and tolerance, and what the SPC chart is signalling. Only the variation,
mean, limits and monthly series are known here, so the SPC wording describes which rule the
latest month meets, from those.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from .formatting import (
    DEFAULT_SUPPRESSION_THRESHOLD,
    format_value,
    is_suppressed,
    round_half_away,
)
from .labels import data_status_word

RUN_LENGTH = 7  # NHS "Making Data Count": a run or trend of 7 points is a signal

# The special-cause rules, as named in the scorecard's ``spc.signals``.
OUTSIDE, SHIFT, TREND, TWO_OF_THREE = "outside_limits", "shift", "trend", "two_of_three"
RULES = (OUTSIDE, SHIFT, TREND, TWO_OF_THREE)
GENERIC = {
    OUTSIDE: "the latest month is outside the control limits",
    SHIFT: f"a run of at least {RUN_LENGTH} months on one side of average",
    TREND: f"a run of at least {RUN_LENGTH} months rising or falling",
    TWO_OF_THREE: "2 of the last 3 months close to a control limit",
}


def quarter_label(scorecard: Mapping[str, Any]) -> str:
    """``2024-25 Q1``, from the label or, failing that, the quarter code."""
    if scorecard.get("label"):
        return str(scorecard["label"])
    code = str(scorecard.get("quarter") or "")
    try:
        from pipelines.periods import Quarter

        return Quarter.parse(code).label
    except Exception:  # an unparseable code is still better shown than hidden
        return code


def is_exception(indicator: Mapping[str, Any]) -> bool:
    """Red, or special cause concern: the spec's definition of an exception."""
    return indicator.get("rag") == "red" or _variation(indicator) == "special_cause_concern"


def exception_ids(scorecard: Mapping[str, Any]) -> list[str]:
    """The scorecard's own ``exceptions`` list when present (it is the contract), else derived."""
    listed = scorecard.get("exceptions")
    if listed is not None:
        return [str(i) for i in listed]
    return [str(i["id"]) for i in scorecard.get("indicators") or [] if is_exception(i)]


def subject_for(scorecard: Mapping[str, Any]) -> str:
    """``LSCP performance scorecard 2024-25 Q1: 3 exceptions`` (``1 exception`` singular)."""
    count = len(exception_ids(scorecard))
    noun = "exception" if count == 1 else "exceptions"
    return f"LSCP performance scorecard {quarter_label(scorecard)}: {count} {noun}"


def exception_sentences(
    scorecard: Mapping[str, Any], *, suppression_threshold: int = DEFAULT_SUPPRESSION_THRESHOLD
) -> list[tuple[str, str]]:
    """``(indicator id, sentence)`` for each exception, in the scorecard's order."""
    by_id = {str(i.get("id")): i for i in scorecard.get("indicators") or []}
    out: list[tuple[str, str]] = []
    for ind_id in exception_ids(scorecard):
        indicator = by_id.get(ind_id)
        if indicator is None:  # keep the count honest even if the detail is absent
            out.append((ind_id, f"{ind_id} is flagged as an exception."))
        else:
            out.append((ind_id, exception_sentence(indicator, suppression_threshold=suppression_threshold)))
    return out


def exception_sentence(
    indicator: Mapping[str, Any], *, suppression_threshold: int = DEFAULT_SUPPRESSION_THRESHOLD
) -> str:
    """One sentence: movement and value, position against target, then the SPC signal."""
    name = str(indicator.get("name") or indicator.get("id"))
    value = indicator.get("value")
    target = target_clause(indicator)
    if value is None:
        reason = data_status_word(indicator.get("data_status")).lower()
        body = f"{name} had no value this quarter ({reason})"
    elif is_suppressed(indicator, suppression_threshold):
        # Never the value, nor its movement: either could identify the children concerned.
        # ("came in" and "stood at" read right whether the name is singular or plural.)
        if target:
            body = f"{name} came in {target} (figure suppressed to protect the children concerned)"
        else:
            body = f"{name}: figure suppressed to protect the children concerned"
    else:
        body = f"{name} {movement_clause(indicator)}"
        if target:
            body += f", {target}"
    spc = spc_clause(indicator)
    return body + (f"; {spc}" if spc else "") + "."


def movement_clause(indicator: Mapping[str, Any]) -> str:
    """``rose to 25.7%`` / ``fell to`` / ``stayed at`` / ``stood at`` (no previous quarter), as shown."""
    decimals = int(indicator.get("decimals") or 0)
    shown = format_value(indicator.get("value"), indicator.get("unit"), decimals)
    now = round_half_away(indicator.get("value"), decimals)
    before = round_half_away(indicator.get("previous_quarter"), decimals)
    if before is None:
        return f"stood at {shown}"
    if now > before:
        return f"rose to {shown}"
    if now < before:
        return f"fell to {shown}"
    return f"stayed at {shown}"


def target_clause(indicator: Mapping[str, Any]) -> str:
    """Where the value sits against the target, by the RAG already judged on it."""
    rag = indicator.get("rag")
    if indicator.get("target") is None or rag not in ("red", "amber", "green"):
        return ""
    target = format_value(indicator["target"], indicator.get("unit"), int(indicator.get("decimals") or 0), trim=True)
    wrong_side = "below" if indicator.get("polarity") == "up" else "above"
    if rag == "red":
        return f"{wrong_side} the {target} target and outside tolerance"
    if rag == "amber":
        return f"{wrong_side} the {target} target but within tolerance"
    return f"at or {'above' if indicator.get('polarity') == 'up' else 'below'} the {target} target"


def spc_clause(indicator: Mapping[str, Any]) -> str:
    """What the SPC chart says, worded from the variation and the rule the latest month meets."""
    variation = _variation(indicator)
    signals = spc_signals(indicator)
    detail = _join(signals)
    if variation == "special_cause_concern":
        return detail or "the monthly figures show special cause concern"
    if variation == "special_cause_improvement":
        return "although the monthly figures show special cause improvement" + (f" ({detail})" if detail else "")
    if variation == "special_cause_high":
        return "the monthly figures are unusually high" + (f" ({detail})" if detail else "")
    if variation == "special_cause_low":
        return "the monthly figures are unusually low" + (f" ({detail})" if detail else "")
    if variation == "common_cause":
        text = "the monthly figures vary only within their usual range (common cause variation)"
        if (indicator.get("spc") or {}).get("assurance") == "fail":
            text += ", so the target will not be met consistently without a change in approach"
        return text
    if variation == "insufficient_history":
        return "too few months of data to judge variation"
    return ""


def spc_signals(indicator: Mapping[str, Any]) -> list[str]:
    """Which special-cause rules the latest month of the series meets, in plain words.

    When the scorecard names the rules (``spc.signals``: outside_limits, shift, trend,
    two_of_three) those are used, so the words always agree with the rating; the series gives
    the run lengths. Without that list the rules are worked out from the series here.
    """
    spc = indicator.get("spc") or {}
    values = [float(p["value"]) for p in spc.get("series") or [] if p.get("value") is not None]
    mean, lower, upper = spc.get("mean"), spc.get("lower_limit"), spc.get("upper_limit")
    named = spc.get("signals")
    found = _rule_phrases(values, mean, lower, upper)
    if named is None:
        rules = [r for r in RULES if r in found]
    else:
        rules = [r for r in RULES if r in set(named)]
    if OUTSIDE in rules and TWO_OF_THREE in rules:
        rules.remove(TWO_OF_THREE)  # "close to the limit" adds nothing once it is beyond it
    if not rules and values and (spc.get("series") or [{}])[-1].get("special_cause"):
        return ["an unusual latest month"]
    return [found.get(r) or GENERIC[r] for r in rules]


def _rule_phrases(values: Sequence[float], mean: Any, lower: Any, upper: Any) -> dict[str, str]:
    """Rule -> words, for each rule the latest point meets by the series, mean and limits."""
    if not values or mean is None:
        return {}
    last = values[-1]
    phrases: dict[str, str] = {}
    if upper is not None and last > upper:
        phrases[OUTSIDE] = "the latest month is above the upper control limit"
    elif lower is not None and last < lower:
        phrases[OUTSIDE] = "the latest month is below the lower control limit"
    run = _run_length(values, mean)
    if run >= RUN_LENGTH:
        phrases[SHIFT] = f"a run of {run} months {'above' if last > mean else 'below'} average"
    trend = _trend_length(values)
    if abs(trend) >= RUN_LENGTH:
        phrases[TREND] = f"a {'rising' if trend > 0 else 'falling'} run of {abs(trend)} months"
    near = _near_limit(values, mean, lower, upper)
    if near:
        phrases[TWO_OF_THREE] = near
    return phrases


def _variation(indicator: Mapping[str, Any]) -> str | None:
    return (indicator.get("spc") or {}).get("variation")


def _run_length(values: Sequence[float], mean: float) -> int:
    """Points at the end of the series all on the latest point's side of the mean."""
    side = _sign(values[-1] - mean)
    if side == 0:
        return 0
    count = 0
    for v in reversed(values):
        if _sign(v - mean) != side:
            break
        count += 1
    return count


def _trend_length(values: Sequence[float]) -> int:
    """Points in the strictly rising (+) or falling (-) run that ends with the latest point."""
    if len(values) < 2 or values[-1] == values[-2]:
        return 0
    rising = values[-1] > values[-2]
    count = 2
    for i in range(len(values) - 2, 0, -1):
        if (values[i] > values[i - 1]) != rising or values[i] == values[i - 1]:
            break
        count += 1
    return count if rising else -count


def _near_limit(values: Sequence[float], mean: float, lower: float | None, upper: float | None) -> str:
    """Rule 4: the latest point and another of the last three beyond two-thirds of the way to a limit."""
    recent = values[-3:]
    if upper is not None and upper > mean:
        line = mean + 2 / 3 * (upper - mean)
        beyond = sum(1 for v in recent if v > line)
        if values[-1] > line and beyond >= 2:
            return f"{beyond} of the last 3 months close to the upper control limit"
    if lower is not None and lower < mean:
        line = mean - 2 / 3 * (mean - lower)
        beyond = sum(1 for v in recent if v < line)
        if values[-1] < line and beyond >= 2:
            return f"{beyond} of the last 3 months close to the lower control limit"
    return ""


def _join(parts: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)
