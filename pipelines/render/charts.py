"""SPC sparklines as PNG bytes: the monthly series with its mean, limits, target and signals.

Drawn with matplotlib's Agg canvas directly (no pyplot), so it needs no display, keeps no
global state between charts and is safe in an Airflow worker. There are deliberately no axis
numbers: the figures are in the table, and a chart of a suppressed indicator must not let a
reader recover a small count from the axis.
"""

from __future__ import annotations

from io import BytesIO

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..model import IndicatorResult, Scorecard
from ..spc import CONCERN_POINT, IMPROVEMENT_POINT

# Displayed at 160 x 48 CSS pixels; drawn at twice that for sharp text-free lines on HiDPI screens.
WIDTH_IN, HEIGHT_IN, DPI = 1.6, 0.48, 200

LINE = "#505A5F"
MEAN = "#0B0C0C"
LIMIT = "#6F777B"
TARGET = "#B10E1E"
CONCERN = "#F47738"
IMPROVEMENT = "#1D70B8"
NEUTRAL = "#6F2C91"


def render_charts(scorecard: Scorecard) -> dict[str, bytes]:
    """Indicator id -> PNG bytes, for every indicator with at least one point in its series."""
    charts: dict[str, bytes] = {}
    for indicator in scorecard.indicators:
        png = spc_chart(indicator)
        if png is not None:
            charts[indicator.id] = png
    return charts


# Special-cause points by what the build judged them: orange concern, blue improvement,
# purple where no direction is better.
POINT_COLOURS = {CONCERN_POINT: CONCERN, IMPROVEMENT_POINT: IMPROVEMENT}


def spc_chart(indicator: IndicatorResult) -> bytes | None:
    """One sparkline, or None when the indicator has no monthly values."""
    spc = indicator.spc
    points = spc.series
    if not points:
        return None
    values = [float(p.value) if p.value is not None else float("nan") for p in points]
    xs = list(range(len(values)))
    mean, lower, upper, target = spc.mean, spc.lower_limit, spc.upper_limit, indicator.target

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.08, 0.96, 0.84))
    ax.set_axis_off()

    for level, style, colour, width in (
        (upper, (0, (3, 2)), LIMIT, 0.8),
        (lower, (0, (3, 2)), LIMIT, 0.8),
        (mean, "solid", MEAN, 0.8),
        (target, (0, (1, 1.5)), TARGET, 1.0),
    ):
        if level is not None:
            ax.axhline(float(level), linestyle=style, color=colour, linewidth=width, zorder=1)

    ax.plot(xs, values, color=LINE, linewidth=1.0, zorder=2)
    ax.scatter(xs, values, s=3, color=LINE, zorder=3, linewidths=0)
    special = [(x, v, p.judgement) for x, v, p in zip(xs, values, points) if p.special_cause]
    if special:
        colours = [POINT_COLOURS.get(judgement or "", NEUTRAL) for _, _, judgement in special]
        ax.scatter(
            [x for x, _, _ in special],
            [v for _, v, _ in special],
            s=14,
            c=colours,
            edgecolors=MEAN,
            linewidths=0.3,
            zorder=4,
        )

    levels = values + [float(v) for v in (mean, lower, upper, target) if v is not None]
    low, high = min(levels), max(levels)
    pad = (high - low) * 0.08 or max(abs(high) * 0.05, 1.0)
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlim(-0.5, max(len(values) - 0.5, 0.5))

    buffer = BytesIO()
    # No Software metadata: the same series always gives the same bytes.
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    return buffer.getvalue()
