"""Words, symbols and colours for the scorecard's codes.

RAG is never colour alone: each status has a word and a symbol as well, for colour-blind
readers and for print. One table here keeps the HTML, text and Excel outputs saying the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spc import MIN_POINTS


@dataclass(frozen=True)
class Badge:
    symbol: str
    word: str
    background: str
    foreground: str

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.word}"


# Colours pass WCAG AA contrast for their text colour.
RAG = {
    "red": Badge("\u25cf", "Red", "#B10E1E", "#FFFFFF"),
    "amber": Badge("\u25b2", "Amber", "#FFBF47", "#0B0C0C"),
    "green": Badge("\u2713", "Green", "#00703C", "#FFFFFF"),
    "none": Badge("\u2013", "Not rated", "#DEE0E2", "#0B0C0C"),
}

# Excel fills for the RAG column (conditional formatting keys on the label text).
RAG_FILLS = {code: badge.background.lstrip("#") for code, badge in RAG.items()}
RAG_FONTS = {code: badge.foreground.lstrip("#") for code, badge in RAG.items()}

# The arrow shows the movement (as shown, rounded); the word says whether it is better.
MOVEMENT_ARROWS = {"up": "\u2191", "down": "\u2193", "same": "\u2192", None: "\u2013"}
MOVEMENT_WORDS = {"up": "Up", "down": "Down", "same": "No change", None: "No comparison"}

POLARITY_WORDS = {"up": "Higher is better", "down": "Lower is better", "neutral": "No better direction (monitored)"}

DIRECTION_WORDS = {
    "improving": "Improving",
    "worsening": "Worsening",
    "no_change": "No change",
    "not_applicable": "Not applicable",
}

DATA_STATUS = {
    "complete": "Complete",
    "missing": "Missing return",
    "no_data": "No data",
}

# Making Data Count: orange for concern, blue for improvement, purple for a neutral signal.
SPC_VARIATION = {
    "common_cause": Badge("\u223c", "Common cause: no significant change", "#F3F2F1", "#0B0C0C"),
    "special_cause_improvement": Badge("\u2605", "Special cause: improvement", "#1D70B8", "#FFFFFF"),
    "special_cause_concern": Badge("\u26a0", "Special cause: concern", "#F47738", "#0B0C0C"),
    "special_cause_high": Badge("H", "Special cause: unusually high", "#6F2C91", "#FFFFFF"),
    "special_cause_low": Badge("L", "Special cause: unusually low", "#6F2C91", "#FFFFFF"),
    "insufficient_history": Badge("\u2026", f"Too few months for SPC (fewer than {MIN_POINTS})", "#F3F2F1", "#0B0C0C"),
}

SPC_ASSURANCE = {
    "pass": Badge("P", "Target consistently met", "#1D70B8", "#FFFFFF"),
    "fail": Badge("F", "Target consistently missed", "#F47738", "#0B0C0C"),
    "hit_and_miss": Badge("?", "Target met or missed by chance", "#F3F2F1", "#0B0C0C"),
}

RETURN_STATUS = {
    "received": Badge("\u2713", "Received", "#00703C", "#FFFFFF"),
    "missing": Badge("\u2717", "Missing", "#B10E1E", "#FFFFFF"),
}


def rag_badge(code: str | None) -> Badge:
    return RAG.get(code or "none", RAG["none"])


def variation_badge(code: str | None) -> Badge | None:
    return SPC_VARIATION.get(code) if code else None


def assurance_badge(code: str | None) -> Badge | None:
    return SPC_ASSURANCE.get(code) if code else None


def return_badge(code: str | None) -> Badge:
    return RETURN_STATUS.get(code or "missing", RETURN_STATUS["missing"])


def data_status_word(code: str | None) -> str:
    return DATA_STATUS.get(code or "", "No value")
