"""The Making Data Count variation and assurance icons, drawn here (no downloaded artwork), each
with its meaning in words for readers who do not know the icons.

Variation (the latest month): a circle with a little run of dots inside. Common cause is grey
with the dots level; a special cause is blue (improvement), orange (concern) or purple (no
better direction), with the letter H or L for whether the latest months are unusually high or
low and an arrow the way they went. Assurance (the target against the process limits): blue
with P (passes the target consistently), orange with F (fails it consistently), grey with ?
(hit and miss), a red target line across the dots.

Which icon is shown is read from the build's decisions (``spc.variation``, ``spc.assurance``,
``spc.conflict``) and the indicator's polarity: an improvement for a lower-is-better indicator
is low (L), a concern for it high (H). Nothing is judged again here.

Icons are PNG (what every email client shows), 96 x 96 pixels displayed at 32 x 32, one file per
distinct icon: the email attaches each icon it uses once, however many indicators show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrow

from ..model import IndicatorResult, Scorecard
from .charts import COMMON, CONCERN, IMPROVEMENT, NEUTRAL, TARGET

SIZE_PX = 96  # drawn; shown at ICON_CSS_PX
ICON_CSS_PX = 32


@dataclass(frozen=True)
class Icon:
    key: str  # file name stem, one per distinct icon: variation-concern-high
    colour: str
    letter: str  # H, L, P, F, ? or "" (common cause)
    direction: str | None  # up | down for a special cause, None otherwise
    words: str  # its meaning, shown beside it: "Special cause concern: high"
    kind: str  # variation | assurance

    @property
    def alt(self) -> str:
        """What the image is (its meaning is in the words beside it, read next):
        ``Variation icon: orange, H``."""
        return f"{self.kind.capitalize()} icon: {COLOUR_WORDS[self.colour]}" + (
            f", {self.letter}" if self.letter else ""
        )

    @property
    def filename(self) -> str:
        return f"{self.key}.png"


COLOUR_WORDS = {IMPROVEMENT: "blue", CONCERN: "orange", NEUTRAL: "purple", COMMON: "grey"}
VARIATION_KINDS = {
    "special_cause_improvement": ("improvement", IMPROVEMENT, "Special cause improvement"),
    "special_cause_concern": ("concern", CONCERN, "Special cause concern"),
    "special_cause_high": ("neutral", NEUTRAL, "Special cause, neither improvement nor concern"),
    "special_cause_low": ("neutral", NEUTRAL, "Special cause, neither improvement nor concern"),
}
SIDE_WORDS = {"H": "high", "L": "low"}

ASSURANCE = {
    "pass": Icon("assurance-pass", IMPROVEMENT, "P", None, "Passes the target consistently", "assurance"),
    "fail": Icon("assurance-fail", CONCERN, "F", None, "Fails the target consistently", "assurance"),
    "hit_and_miss": Icon(
        "assurance-hit-and-miss", COMMON, "?", None, "Hit and miss: the target may or may not be met", "assurance"
    ),
}
COMMON_CAUSE = Icon("variation-common-cause", COMMON, "", None, "Common cause: no significant change", "variation")
CONFLICT_WORDS = " (rules for both high and low hold on the latest month)"


def _letter(variation: str, polarity: str) -> str:
    """H or L: where the special cause lies, from the variation and the better direction."""
    if variation == "special_cause_high":
        return "H"
    if variation == "special_cause_low":
        return "L"
    good_is_high = polarity == "up"
    good = variation == "special_cause_improvement"
    return "H" if good == good_is_high else "L"


def variation_icon(indicator: IndicatorResult) -> Icon | None:
    """The variation icon of the latest month, or None when there is no judgement
    (``insufficient_history``, or an unknown code)."""
    spc = indicator.spc
    if spc.variation == "common_cause":
        return COMMON_CAUSE
    kind = VARIATION_KINDS.get(spc.variation)
    if kind is None:
        return None
    name, colour, words = kind
    letter = _letter(spc.variation, indicator.polarity)
    side = SIDE_WORDS[letter]
    text = f"{words}: {side}" + (CONFLICT_WORDS if spc.conflict else "")
    key = f"variation-{name}-{side}"
    return Icon(key, colour, letter, "up" if letter == "H" else "down", text, "variation")


def assurance_icon(indicator: IndicatorResult) -> Icon | None:
    """The assurance icon, or None when the build gave no assurance (no target, neutral
    polarity, or too few months)."""
    return ASSURANCE.get(indicator.spc.assurance or "")


def icons_used(scorecard: Scorecard) -> dict[str, bytes]:
    """Icon key -> PNG bytes for each distinct icon the scorecard shows (each drawn once)."""
    used: dict[str, bytes] = {}
    for indicator in scorecard.indicators:
        for icon in (variation_icon(indicator), assurance_icon(indicator)):
            if icon is not None and icon.key not in used:
                used[icon.key] = icon_png(icon)
    return used


# Dot positions (x, y) inside the circle, in a 0..1 box: a level run for common cause, a run
# whose last three points step away for a special cause, dots either side of the target for
# assurance.
LEVEL = [(0.22, 0.42), (0.33, 0.38), (0.44, 0.44), (0.55, 0.38), (0.66, 0.43), (0.77, 0.39)]
RISING = [(0.22, 0.30), (0.32, 0.26), (0.42, 0.31), (0.52, 0.40), (0.62, 0.50), (0.72, 0.60)]
FALLING = [(x, 0.86 - y) for x, y in RISING]
ABOVE = [(0.25, 0.40), (0.37, 0.44), (0.49, 0.39), (0.61, 0.45), (0.73, 0.41)]
BELOW = [(x, y - 0.17) for x, y in ABOVE]
ACROSS = [(0.25, 0.40), (0.37, 0.25), (0.49, 0.42), (0.61, 0.24), (0.73, 0.39)]


@lru_cache(maxsize=32)
def icon_png(icon: Icon) -> bytes:
    """The icon as PNG bytes (SIZE_PX square, white outside the circle)."""
    fig = Figure(figsize=(1, 1), dpi=SIZE_PX)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_axis_off()
    ax.add_patch(Circle((0.5, 0.5), 0.44, facecolor="white", edgecolor=icon.colour, linewidth=4.5))
    if icon.kind == "variation":
        _variation_marks(ax, icon)
    else:
        _assurance_marks(ax, icon)
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=SIZE_PX, metadata={"Software": None}, facecolor="white")
    return buffer.getvalue()


def _dots(ax: Axes, points: list[tuple[float, float]], colours: list[str]) -> None:
    ax.plot([x for x, _ in points], [y for _, y in points], color="#A6A6A6", linewidth=1.2, zorder=2)
    ax.scatter([x for x, _ in points], [y for _, y in points], s=22, c=colours, linewidths=0, zorder=3)


def _variation_marks(ax: Axes, icon: Icon) -> None:
    if not icon.letter:
        _dots(ax, LEVEL, [COMMON] * len(LEVEL))
        return
    points = RISING if icon.direction == "up" else FALLING
    _dots(ax, points, [COMMON] * 3 + [icon.colour] * 3)
    # The letter at the top, the arrow beside it pointing the way the latest months went.
    ax.text(0.42, 0.74, icon.letter, color=icon.colour, fontsize=24, fontweight="bold", ha="center", va="center")
    y0, dy = (0.62, 0.22) if icon.direction == "up" else (0.84, -0.22)
    ax.add_patch(
        FancyArrow(
            0.66,
            y0,
            0,
            dy,
            width=0.035,
            head_width=0.11,
            head_length=0.08,
            length_includes_head=True,
            color=icon.colour,
        )
    )


def _assurance_marks(ax: Axes, icon: Icon) -> None:
    ax.text(0.5, 0.72, icon.letter, color=icon.colour, fontsize=26, fontweight="bold", ha="center", va="center")
    ax.plot([0.14, 0.86], [0.32, 0.32], color=TARGET, linewidth=1.6, zorder=1)
    points = {"P": ABOVE, "F": BELOW}.get(icon.letter, ACROSS)
    _dots(ax, points, [icon.colour if icon.letter != "?" else COMMON] * len(points))
