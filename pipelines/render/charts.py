"""SPC charts as PNG bytes, drawn from what the build decided about each monthly point.

Two drawings of the same data (``chart_data``): the 160x48 sparkline in the scorecard table, and
the full NHS England "Making Data Count" chart on each indicator's page of the archive and in
the workbook: months along the x axis, the mean (solid) and process limits (dashed) of each
segment as step lines (limits recalculated part way start a new segment), the target, and each
point coloured by the build's judgement of it (orange concern, blue improvement, purple a
special cause with no better direction, grey common cause), with a key and the unit on the y
axis.

Renderers only format: the segments, limits, rules and judgements are the ones in the model
(``SpcPoint``), never worked out again here. The one choice made here is presentation: the y
axis of a disclosive indicator carries no numbers (as the sparkline carries none at all), so a
chart cannot give away a small count the tables show as ``c``.

Drawn with matplotlib's Agg canvas directly (no pyplot), so it needs no display, keeps no
global state between charts and is safe in an Airflow worker; the same data always gives the
same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from ..model import IndicatorResult, Scorecard, SpcPoint

# Sparkline: displayed at 160 x 48 CSS pixels, drawn at twice that for HiDPI screens.
WIDTH_IN, HEIGHT_IN, DPI = 1.6, 0.48, 200
# Full chart: displayed at 800 x 380 CSS pixels; the archive draws it at twice that.
CHART_WIDTH_IN, CHART_HEIGHT_IN = 8.0, 3.8
CHART_DPI = 200  # the archive's page (1600 x 760 pixels)
WORKBOOK_DPI = CHART_DPI // 2  # the workbook's image (800 x 380 pixels, keeps the attachment small)

# NHS England's Making Data Count palette.
CONCERN = "#ED8B00"
IMPROVEMENT = "#005EB8"
NEUTRAL = "#7030A0"
COMMON = "#7F7F7F"
POINT_COLOURS = {"concern": CONCERN, "improvement": IMPROVEMENT, "neutral": NEUTRAL}
POINT_WORDS = {
    IMPROVEMENT: "Special cause improvement",
    CONCERN: "Special cause concern",
    NEUTRAL: "Special cause, neutral",
    COMMON: "Common cause",
}
LINE = "#A6A6A6"  # the line joining the points
MEAN = "#231F20"
LIMIT = "#425563"
TARGET = "#DA291C"

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NO_AXIS_NUMBERS = "No numbers on the axis: this indicator is about identifiable children, and small monthly numbers could identify them."
UNIT_AXIS = {"%": "Per cent (%)", "count": "Number"}


@dataclass(frozen=True)
class Segment:
    """Consecutive points sharing one mean and one pair of limits (indexes inclusive)."""

    first: int
    last: int
    mean: float | None
    lower_limit: float | None
    upper_limit: float | None


@dataclass(frozen=True)
class ChartData:
    """What a chart draws, read from the model: one entry per monthly point, oldest first."""

    months: tuple[str, ...]  # 2024-04
    labels: tuple[str, ...]  # Apr 2024
    values: tuple[float | None, ...]
    colours: tuple[str, ...]  # each point's colour, from its judgement
    segments: tuple[Segment, ...]
    target: float | None
    axis_label: str
    axis_values: bool  # False for a disclosive indicator: no numbers on the y axis


def month_label(month: str) -> str:
    """``2024-04`` -> ``Apr 2024``."""
    year, number = month.split("-")
    return f"{MONTHS[int(number) - 1]} {year}"


def axis_label(indicator: IndicatorResult) -> str:
    code = indicator.unit.code
    return UNIT_AXIS.get(code, code[:1].upper() + code[1:])


def segments_of(points: tuple[SpcPoint, ...]) -> tuple[Segment, ...]:
    """Runs of points with the same mean and limits: a new run starts where the build
    recalculated them."""
    segments: list[Segment] = []
    for i, p in enumerate(points):
        key = (p.mean, p.lower_limit, p.upper_limit)
        last = segments[-1] if segments else None
        if last is not None and (last.mean, last.lower_limit, last.upper_limit) == key:
            segments[-1] = Segment(last.first, i, *key)
        else:
            segments.append(Segment(i, i, *key))
    return tuple(segments)


def chart_data(indicator: IndicatorResult) -> ChartData | None:
    """The drawing data of an indicator's chart, or None when it has no monthly point."""
    points = indicator.spc.series
    if not points:
        return None
    return ChartData(
        months=tuple(p.month for p in points),
        labels=tuple(month_label(p.month) for p in points),
        values=tuple(None if p.value is None else float(p.value) for p in points),
        colours=tuple(POINT_COLOURS.get(p.judgement or "", COMMON) for p in points),
        segments=segments_of(points),
        target=indicator.target,
        axis_label=axis_label(indicator),
        axis_values=not indicator.disclosive,
    )


def render_charts(scorecard: Scorecard) -> dict[str, bytes]:
    """Indicator id -> sparkline PNG bytes, for every indicator with a monthly point."""
    charts: dict[str, bytes] = {}
    for indicator in scorecard.indicators:
        png = spc_chart(indicator)
        if png is not None:
            charts[indicator.id] = png
    return charts


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@lru_cache(maxsize=1)
def _palette() -> Image.Image:
    """White, and the chart's colours exactly, each with 13 shades towards white (the
    anti-aliased edges on a white ground): a chart needs no other colour, and a palette PNG is
    a third the size. (White first and no shade closer to it than 1/8: Pillow's palette
    matching is approximate, and the ground must stay pure white.)"""
    colours = ("#000000", MEAN, LIMIT, TARGET, LINE, COMMON, CONCERN, IMPROVEMENT, NEUTRAL)
    entries: list[int] = [255, 255, 255]
    for colour in colours:
        r, g, b = _rgb(colour)
        for step in range(14):
            share = step / 16
            entries += [round(c + (255 - c) * share) for c in (r, g, b)]
    palette = Image.new("P", (1, 1))
    palette.putpalette(entries + [255, 255, 255] * (256 - len(entries) // 3))
    return palette


def _png(fig: Figure, dpi: int, *, palette: bool = False) -> bytes:
    """PNG bytes; ``palette``: reduced to the chart's own colours (``_palette``), which keeps
    the archive small and the workbook attached to the email small."""
    buffer = BytesIO()
    # No Software metadata: the same series always gives the same bytes.
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white")
    if not palette:
        return buffer.getvalue()
    buffer.seek(0)
    return _palette_png(Image.open(buffer).convert("RGB"))


def _palette_png(image: Image.Image) -> bytes:
    out = BytesIO()
    image.quantize(palette=_palette(), dither=Image.Dither.NONE).save(out, format="PNG")
    return out.getvalue()


def _levels(data: ChartData) -> list[float]:
    levels = [v for v in data.values if v is not None]
    for s in data.segments:
        levels += [v for v in (s.mean, s.lower_limit, s.upper_limit) if v is not None]
    if data.target is not None:
        levels.append(float(data.target))
    return levels


def _limits_y(data: ChartData, pad_share: float) -> tuple[float, float]:
    levels = _levels(data) or [0.0]
    low, high = min(levels), max(levels)
    pad = (high - low) * pad_share or max(abs(high) * 0.05, 1.0)
    return low - pad, high + pad


def _step_lines(ax: Axes, data: ChartData, width: float) -> None:
    """Each segment's mean (solid) and limits (dashed), from its first point to its last (half
    a month either side), so a recalculation shows as a step."""
    for n, s in enumerate(data.segments):
        xs = [s.first - 0.45, s.last + 0.45]
        for gid, level, style, colour in (
            ("mean", s.mean, "solid", MEAN),
            ("upper", s.upper_limit, (0, (4, 2)), LIMIT),
            ("lower", s.lower_limit, (0, (4, 2)), LIMIT),
        ):
            if level is not None:
                ax.plot(xs, [level, level], linestyle=style, color=colour, linewidth=width, zorder=2, gid=f"{gid}-{n}")


def spc_chart(indicator: IndicatorResult) -> bytes | None:
    """The sparkline (no axes, no numbers), or None when the indicator has no monthly values."""
    data = chart_data(indicator)
    if data is None:
        return None
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.08, 0.96, 0.84))
    ax.set_axis_off()
    xs = list(range(len(data.values)))
    values = [float("nan") if v is None else v for v in data.values]
    _step_lines(ax, data, 0.8)
    if data.target is not None:
        ax.axhline(float(data.target), linestyle=(0, (1, 1.5)), color=TARGET, linewidth=1.0, zorder=1)
    ax.plot(xs, values, color=LINE, linewidth=1.0, zorder=3)
    common = [(x, v) for x, v, c in zip(xs, values, data.colours) if c == COMMON]
    ax.scatter([x for x, _ in common], [v for _, v in common], s=3, color=COMMON, zorder=4, linewidths=0)
    special = [(x, v, c) for x, v, c in zip(xs, values, data.colours) if c != COMMON]
    if special:
        ax.scatter(
            [x for x, _, _ in special],
            [v for _, v, _ in special],
            s=14,
            c=[c for _, _, c in special],
            zorder=5,
            linewidths=0,
        )
    ax.set_ylim(*_limits_y(data, 0.08))
    ax.set_xlim(-0.5, max(len(values) - 0.5, 0.5))
    return _png(fig, DPI)


def mdc_figure(indicator: IndicatorResult) -> Figure | None:
    """The full Making Data Count chart as a matplotlib figure (tests read its drawing data);
    None when the indicator has no monthly values."""
    data = chart_data(indicator)
    if data is None:
        return None
    fig = Figure(figsize=(CHART_WIDTH_IN, CHART_HEIGHT_IN), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.08, 0.27, 0.64, 0.63))
    xs = list(range(len(data.values)))
    values = [float("nan") if v is None else v for v in data.values]

    _step_lines(ax, data, 1.2)
    if data.target is not None:
        ax.axhline(float(data.target), linestyle=(0, (6, 2, 1, 2)), color=TARGET, linewidth=1.4, zorder=1, gid="target")
    ax.plot(xs, values, color=LINE, linewidth=1.2, zorder=3, gid="series")
    for colour in (COMMON, NEUTRAL, IMPROVEMENT, CONCERN):
        at = [(x, v) for x, v, c in zip(xs, values, data.colours) if c == colour and v == v]
        if at:
            ax.scatter(
                [x for x, _ in at],
                [v for _, v in at],
                s=30,
                color=colour,
                zorder=4,
                linewidths=0,
                gid=f"points-{colour}",
            )

    ax.set_xlim(-0.7, len(values) - 0.3)
    ax.set_ylim(*_limits_y(data, 0.1))
    ax.set_xticks(xs)
    ax.set_xticklabels(data.labels, rotation=90, fontsize=7)
    ax.set_ylabel(data.axis_label, fontsize=8)
    if data.axis_values:
        ax.tick_params(axis="y", labelsize=7)
    else:
        ax.set_yticks([])
        fig.text(0.08, 0.02, NO_AXIS_NUMBERS, fontsize=7, color=LIMIT, gid="no-axis-numbers")
    ax.grid(False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{indicator.id} {indicator.name}", fontsize=9, loc="left")

    key: list[Line2D] = [
        Line2D([], [], color=MEAN, linewidth=1.2, label="Mean"),
        Line2D([], [], color=LIMIT, linewidth=1.2, linestyle=(0, (4, 2)), label="Process limits"),
    ]
    if data.target is not None:
        key.append(Line2D([], [], color=TARGET, linewidth=1.4, linestyle=(0, (6, 2, 1, 2)), label="Target"))
    for colour in (IMPROVEMENT, CONCERN, NEUTRAL, COMMON):
        if colour in data.colours:
            key.append(
                Line2D([], [], color=colour, marker="o", linestyle="none", markersize=6, label=POINT_WORDS[colour])
            )
    if len(data.segments) > 1:
        key.append(Line2D([], [], color="none", label="Limits recalculated\nwhere the lines step"))
    fig.legend(handles=key, loc="upper left", bbox_to_anchor=(0.74, 0.92), fontsize=7, frameon=False)
    return fig


def mdc_chart(indicator: IndicatorResult, *, dpi: int = CHART_DPI) -> bytes | None:
    """The full Making Data Count chart as PNG bytes (8 x 3.8 inches at ``dpi``)."""
    fig = mdc_figure(indicator)
    return None if fig is None else _png(fig, dpi, palette=True)


@dataclass(frozen=True)
class FullChart:
    """One drawing of an indicator's full chart, in the two sizes the outputs use."""

    page: bytes  # the archive's indicator page: CHART_DPI (1600 x 760), shown at 800 x 380
    workbook: bytes  # the workbook's Charts sheet: half that (800 x 380)


def full_chart(indicator: IndicatorResult) -> FullChart | None:
    """The full chart drawn once and saved at both sizes (the smaller one scaled down from the
    larger: a build draws each chart once), or None with no monthly values."""
    fig = mdc_figure(indicator)
    if fig is None:
        return None
    # The canvas's pixels directly: no PNG written by matplotlib only to be read back.
    fig.set_dpi(CHART_DPI)
    fig.set_facecolor("white")
    canvas = fig.canvas
    canvas.draw()
    large = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")  # type: ignore[attr-defined]
    small = large.resize(
        (large.width * WORKBOOK_DPI // CHART_DPI, large.height * WORKBOOK_DPI // CHART_DPI), Image.Resampling.LANCZOS
    )
    return FullChart(page=_palette_png(large), workbook=_palette_png(small))


def render_full_charts(scorecard: Scorecard) -> dict[str, FullChart]:
    """Indicator id -> its full chart, for every indicator with a monthly point."""
    charts: dict[str, FullChart] = {}
    for indicator in scorecard.indicators:
        chart = full_chart(indicator)
        if chart is not None:
            charts[indicator.id] = chart
    return charts
