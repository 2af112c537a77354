"""The Making Data Count charts and SPC icons, from hand-made indicators: what is drawn (the
data handed to matplotlib, pixels at the points' positions), image sizes, the step of the
limits where they were recalculated, the icons and their words, and where they appear (the
archive's indicator pages, the workbook's Charts sheet)."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import openpyxl
import pytest
from PIL import Image
from test_render import indicator, mixed, months, scorecard, spc

from pipelines.model import SpcPoint
from pipelines.render import render_html, write_icons, write_indicator_pages, write_workbook
from pipelines.render.archive import full_chart_alt
from pipelines.render.charts import (
    COMMON,
    CONCERN,
    IMPROVEMENT,
    NEUTRAL,
    NO_AXIS_NUMBERS,
    WORKBOOK_DPI,
    chart_data,
    full_chart,
    mdc_chart,
    mdc_figure,
    spc_chart,
)
from pipelines.render.icons import SIZE_PX, assurance_icon, icon_png, icons_used, variation_icon

# 24 months: limits recalculated from the 13th (a new segment with a higher mean); points 4,
# 7, 22 and 23 special cause (concern, neutral, improvement, improvement). A month with no value
# is left out of the series by the build, so every point here has one.
VALUES = [10, 11, 9, 10, 12, 11, 10, 9, 10, 11, 10, 12, 15, 16, 14, 15, 17, 16, 15, 14, 16, 15, 18, 19]
FIRST, SECOND = (10.4, 7.0, 13.8), (15.8, 12.0, 19.6)
JUDGEMENTS = {4: "concern", 7: "neutral", 22: "improvement", 23: "improvement"}
RULES = {4: ("two_of_three_high",), 7: ("outside_low",), 22: ("trend_high",), 23: ("trend_high", "outside_high")}


def recalculated(**overrides):
    points = tuple(
        SpcPoint(
            month=month,
            value=value,
            numerator=None,
            denominator=None,
            judgement=JUDGEMENTS.get(i),
            mean=(FIRST if i < 12 else SECOND)[0],
            lower_limit=(FIRST if i < 12 else SECOND)[1],
            upper_limit=(FIRST if i < 12 else SECOND)[2],
            rules=RULES.get(i, ()),
        )
        for i, (month, value) in enumerate(zip(months(24), VALUES))
    )
    base = indicator(
        polarity="up", target=14.0, spc=replace(spc("special_cause_improvement", "hit_and_miss"), series=points)
    )
    return replace(base, **overrides)


def lines(fig) -> dict[str, tuple[list[float], list[float]]]:
    ax = fig.axes[0]
    return {
        line.get_gid(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines() if line.get_gid()
    }


def near(rgb, hex_colour, tolerance=14) -> bool:
    want = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, want))


# --- the drawing data --------------------------------------------------------------------------


def test_chart_data_reads_the_builds_points():
    data = chart_data(recalculated())
    assert data is not None
    assert data.months[0] == "2022-07" and data.labels[0] == "Jul 2022" and data.labels[-1] == "Jun 2024"
    assert data.values[15] == 15.0 and data.values[23] == 19.0
    expected = [COMMON] * 24
    expected[4], expected[7], expected[22], expected[23] = CONCERN, NEUTRAL, IMPROVEMENT, IMPROVEMENT
    assert list(data.colours) == expected
    assert [(s.first, s.last, s.mean, s.lower_limit, s.upper_limit) for s in data.segments] == [
        (0, 11, *FIRST),
        (12, 23, *SECOND),
    ]
    assert data.target == 14.0 and data.axis_label == "Per cent (%)" and data.axis_values
    assert chart_data(indicator(spc=spc(values=()))) is None


def test_the_limits_step_where_they_were_recalculated():
    fig = mdc_figure(recalculated())
    drawn = lines(fig)
    # mean solid, limits dashed; each segment's from its first month to its last
    assert drawn["mean-0"] == ([-0.45, 11.45], [10.4, 10.4])
    assert drawn["upper-0"] == ([-0.45, 11.45], [13.8, 13.8])
    assert drawn["lower-0"] == ([-0.45, 11.45], [7.0, 7.0])
    assert drawn["mean-1"] == ([11.55, 23.45], [15.8, 15.8])
    assert drawn["upper-1"] == ([11.55, 23.45], [19.6, 19.6])
    assert drawn["lower-1"] == ([11.55, 23.45], [12.0, 12.0])
    ax = fig.axes[0]
    styles = {line.get_gid(): line.get_linestyle() for line in ax.get_lines() if line.get_gid()}
    assert styles["mean-0"] == "-" and styles["upper-0"] == "--" and styles["lower-1"] == "--"
    assert drawn["target"][1] == [14.0, 14.0]
    series_x, series_y = drawn["series"]
    assert series_x == list(range(24)) and series_y[15] == 15.0
    # the x axis: every month, by name; the y axis: the unit
    assert [t.get_text() for t in ax.get_xticklabels()][:3] == ["Jul 2022", "Aug 2022", "Sep 2022"]
    assert ax.get_ylabel() == "Per cent (%)"
    assert ax.get_yticks().size > 0
    key = [t.get_text() for t in fig.legends[0].get_texts()]
    assert key == [
        "Mean",
        "Process limits",
        "Target",
        "Special cause improvement",
        "Special cause concern",
        "Special cause, neutral",
        "Common cause",
        "Limits recalculated\nwhere the lines step",
    ]


def test_one_segment_draws_one_set_of_lines_and_no_recalculation_key():
    one = indicator(spc=spc(mean=10.5, lower=8.0, upper=13.0))
    fig = mdc_figure(one)
    drawn = lines(fig)
    assert drawn["upper-0"][1] == [13.0, 13.0] and "upper-1" not in drawn
    assert "Limits recalculated\nwhere the lines step" not in [t.get_text() for t in fig.legends[0].get_texts()]


def test_points_are_coloured_by_their_judgement_in_the_png():
    ind = recalculated()
    fig = mdc_figure(ind)
    ax = fig.axes[0]
    png = mdc_chart(ind, dpi=100)  # the figure's own resolution: its pixel positions are the PNG's
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (800, 380)
    height = image.size[1]
    for i, colour in ((4, CONCERN), (7, NEUTRAL), (22, IMPROVEMENT), (23, IMPROVEMENT), (0, COMMON), (10, COMMON)):
        x, y = ax.transData.transform((i, VALUES[i]))
        pixel = image.getpixel((round(x), round(height - y)))
        assert near(pixel, colour), (i, pixel, colour)


def test_chart_sizes_and_bytes_are_deterministic():
    ind = recalculated()
    full = mdc_chart(ind)
    assert Image.open(io.BytesIO(full)).size == (1600, 760)  # the archive's, shown at 800 x 380
    assert Image.open(io.BytesIO(mdc_chart(ind, dpi=WORKBOOK_DPI))).size == (800, 380)
    both = full_chart(ind)  # what a build writes: one drawing, two sizes
    assert both is not None and both.page == full
    small = Image.open(io.BytesIO(both.workbook)).convert("RGB")
    assert small.size == (800, 380) and len(both.workbook) < len(full)
    x, y = mdc_figure(ind).axes[0].transData.transform((22, VALUES[22]))
    assert near(small.getpixel((round(x), round(380 - y))), IMPROVEMENT, 30)  # still blue where the point is
    assert full_chart(indicator(spc=spc(values=()))) is None
    assert mdc_chart(ind) == full
    assert len(full) < 80_000  # a palette PNG
    assert Image.open(io.BytesIO(spc_chart(ind))).size == (320, 96)


def test_a_disclosive_indicator_has_no_numbers_on_its_axis():
    fig = mdc_figure(recalculated(disclosive=True))
    ax = fig.axes[0]
    assert list(ax.get_yticks()) == []
    assert ax.get_ylabel() == "Per cent (%)"
    assert NO_AXIS_NUMBERS in [t.get_text() for t in fig.texts]
    assert NO_AXIS_NUMBERS not in [t.get_text() for t in mdc_figure(recalculated()).texts]


def test_sparkline_draws_the_same_steps():
    # the sparkline reads the same data: the upper limit of each segment at its own height
    ind = recalculated()
    png = Image.open(io.BytesIO(spc_chart(ind))).convert("RGB")
    blue = sum(1 for p in png.getdata() if near(p, IMPROVEMENT))
    orange = sum(1 for p in png.getdata() if near(p, CONCERN))
    purple = sum(1 for p in png.getdata() if near(p, NEUTRAL))
    assert blue > orange > 0 and purple > 0  # two improvement points, one concern, one neutral


# --- the icons ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variation", "polarity", "key", "letter", "words"),
    [
        ("common_cause", "up", "variation-common-cause", "", "Common cause: no significant change"),
        ("special_cause_improvement", "up", "variation-improvement-high", "H", "Special cause improvement: high"),
        ("special_cause_improvement", "down", "variation-improvement-low", "L", "Special cause improvement: low"),
        ("special_cause_concern", "up", "variation-concern-low", "L", "Special cause concern: low"),
        ("special_cause_concern", "down", "variation-concern-high", "H", "Special cause concern: high"),
        (
            "special_cause_high",
            "neutral",
            "variation-neutral-high",
            "H",
            "Special cause, neither improvement nor concern: high",
        ),
        (
            "special_cause_low",
            "neutral",
            "variation-neutral-low",
            "L",
            "Special cause, neither improvement nor concern: low",
        ),
    ],
)
def test_variation_icons_letters_and_words(variation, polarity, key, letter, words):
    icon = variation_icon(indicator(polarity=polarity, spc=spc(variation)))
    assert icon is not None
    assert (icon.key, icon.letter, icon.words) == (key, letter, words)
    colour = {"common_cause": "grey", "special_cause_improvement": "blue", "special_cause_concern": "orange"}
    assert icon.alt == f"Variation icon: {colour.get(variation, 'purple')}" + (f", {letter}" if letter else "")
    assert icon.direction == {"H": "up", "L": "down", "": None}[letter]


def test_no_variation_icon_without_a_judgement_but_words_remain():
    few = indicator(spc=spc("insufficient_history", None))
    assert variation_icon(few) is None and assurance_icon(few) is None
    html = render_html(scorecard([few]), icons={"variation-common-cause": "icons/x.png"})
    assert "Too few months for SPC" in html and "Variation icon" not in html


def test_a_conflict_is_said_in_words():
    both = indicator(polarity="up", spc=replace(spc("special_cause_improvement"), conflict=True))
    icon = variation_icon(both)
    assert icon is not None and icon.key == "variation-improvement-high"
    assert icon.words == "Special cause improvement: high (rules for both high and low hold on the latest month)"


@pytest.mark.parametrize(
    ("assurance", "key", "letter", "colour", "words"),
    [
        ("pass", "assurance-pass", "P", IMPROVEMENT, "Passes the target consistently"),
        ("fail", "assurance-fail", "F", CONCERN, "Fails the target consistently"),
        ("hit_and_miss", "assurance-hit-and-miss", "?", COMMON, "Hit and miss: the target may or may not be met"),
    ],
)
def test_assurance_icons(assurance, key, letter, colour, words):
    icon = assurance_icon(indicator(spc=spc(assurance=assurance)))
    assert icon is not None and (icon.key, icon.letter, icon.colour, icon.words) == (key, letter, colour, words)
    image = Image.open(io.BytesIO(icon_png(icon))).convert("RGB")
    assert image.size == (SIZE_PX, SIZE_PX)
    assert near(image.getpixel((48, 5)), colour, 30)  # the ring, top centre
    assert near(image.getpixel((48, 48)), "#FFFFFF", 5) or near(image.getpixel((48, 48)), colour, 30)


def test_variation_icons_are_circles_in_the_nhs_colours():
    for variation, polarity, colour in (
        ("common_cause", "up", COMMON),
        ("special_cause_improvement", "up", IMPROVEMENT),
        ("special_cause_concern", "up", CONCERN),
        ("special_cause_high", "neutral", NEUTRAL),
    ):
        icon = variation_icon(indicator(polarity=polarity, spc=spc(variation)))
        assert icon is not None and icon.colour == colour
        image = Image.open(io.BytesIO(icon_png(icon))).convert("RGB")
        assert image.size == (96, 96)
        for x, y in ((48, 5), (5, 48), (91, 48), (48, 91)):  # the ring all round
            assert near(image.getpixel((x, y)), colour, 30), (variation, (x, y), image.getpixel((x, y)))
        assert near(image.getpixel((1, 1)), "#FFFFFF", 3)  # white outside the circle
        if icon.letter:  # the special-cause dots in the icon's colour
            assert sum(1 for p in image.getdata() if near(p, colour, 10)) > 300


def test_icons_used_draws_each_distinct_icon_once():
    icons = icons_used(mixed())
    assert sorted(icons) == [
        "assurance-fail",
        "assurance-hit-and-miss",
        "variation-common-cause",
        "variation-concern-high",
        "variation-concern-low",
        "variation-improvement-low",
        "variation-neutral-high",
    ]
    assert all(png.startswith(b"\x89PNG") and len(png) < 8_000 for png in icons.values())


def test_html_puts_each_icon_with_its_words_and_alt_text():
    sc = mixed()
    html = render_html(sc, icons={key: f"icons/{key}.png" for key in icons_used(sc)})
    row = re.search(r'<tr id="CS03">(.*?)</tr>', html, re.S).group(1)
    icons = re.findall(
        r'<img src="(icons/[^"]+)" width="32" height="32" alt="([^"]+)"[^>]*><span class="spc-words"[^>]*>([^<]+)</span>',
        row,
    )
    assert icons == [
        (
            "icons/variation-concern-high.png",
            "Variation icon: orange, H",
            "Special cause concern: high",
        ),
        (
            "icons/assurance-hit-and-miss.png",
            "Assurance icon: grey, ?",
            "Hit and miss: the target may or may not be met",
        ),
    ]
    assert all(re.search(r'alt="[^"]+"', img) for img in re.findall(r"<img [^>]*>", html))  # alt on every image


# --- where they appear ------------------------------------------------------------------------


def test_archive_pages_one_per_indicator_linked_from_the_scorecard(tmp_path):
    sc = scorecard([recalculated(id="CS03", name="Re-referrals"), indicator(id="MI05", spc=spc(values=()))])
    icons = write_icons(sc, tmp_path)
    assert icons == {
        "variation-improvement-high": "icons/variation-improvement-high.png",
        "assurance-hit-and-miss": "icons/assurance-hit-and-miss.png",
        "variation-common-cause": "icons/variation-common-cause.png",
        "assurance-pass": "icons/assurance-pass.png",
    }
    pages = write_indicator_pages(sc, tmp_path, icons=icons)
    assert pages == {"CS03": "indicators/CS03.html", "MI05": "indicators/MI05.html"}
    html = render_html(sc, icons=icons, pages=pages)
    assert '<a href="indicators/CS03.html"' in html
    (tmp_path / "scorecard.html").write_text(html)
    page = (tmp_path / "indicators" / "CS03.html").read_text()
    assert '<img id="mdc-chart" src="CS03.png" width="800" height="380"' in page
    assert Image.open(tmp_path / "indicators" / "CS03.png").size == (1600, 760)
    assert 'src="../icons/variation-improvement-high.png"' in page
    assert (
        ">Special cause improvement: high</span>" in page
        and ">Hit and miss: the target may or may not be met</span>" in page
    )
    for src in re.findall(r'(?:src|href)="([^"]+)"', page):
        if src != "../../index.html":  # the index is written by write_archive_index
            assert (tmp_path / "indicators" / src).resolve().exists(), src
    empty = (tmp_path / "indicators" / "MI05.html").read_text()
    assert "There are no monthly figures to chart" in empty and not (tmp_path / "indicators" / "MI05.png").exists()
    assert "http" not in page and "<script" not in page


def test_chart_alt_text_says_what_is_drawn_without_values():
    alt = full_chart_alt(recalculated(name="Re-referrals"))
    assert alt == (
        "Making Data Count chart of Re-referrals: 24 monthly points from Jul 2022 to Jun 2024, with the mean "
        "and process limits (recalculated 1 time) and the target; special cause points coloured: "
        "concern, improvement, neutral"
    )
    assert not re.search(r"\d+\.\d", alt)


def test_workbook_charts_sheet_has_an_image_and_the_words_per_indicator(tmp_path):
    sc = mixed()
    wb = openpyxl.load_workbook(write_workbook(sc, tmp_path / "s.xlsx"))
    ws = wb["Charts"]
    charted = [i.id for i in sc.indicators if i.spc.series]
    assert len(ws._images) == len(charted) == 6
    assert all((img.width, img.height) == (800, 380) for img in ws._images)
    cells = {(c.row, c.column): c.value for row in ws.iter_rows() for c in row if c.value is not None}
    ids = [(r, v) for (r, col), v in cells.items() if col == 1 and v in {i.id for i in sc.indicators}]
    assert [v for _, v in sorted(ids)] == [i.id for i in sc.indicators]
    cs03 = next(r for r, v in ids if v == "CS03")
    assert cells[(cs03, 2)] == "Re-referrals within 12 months"
    assert cells[(cs03 + 1, 2)] == "Special cause concern: high"
    assert cells[(cs03 + 2, 2)] == "Hit and miss: the target may or may not be met"
    anchors = sorted(img.anchor._from.row + 1 for img in ws._images)  # 1-based rows
    assert cs03 + 3 in anchors
    mi05 = next(r for r, v in ids if v == "MI05")
    assert cells[(mi05 + 3, 2)] == "No monthly figures to chart."
    summary = {row[0].value: row for row in wb["Summary"].iter_rows(min_row=7)}
    assert summary["CS03"][16].value == "Special cause concern: high"  # the same words as the icons


def test_the_build_fills_each_point_with_its_limits_and_named_rules():
    """The model's points as the build makes them (``decide.spc_of``): every point carries its
    segment's mean and limits, and a special-cause point the rules that hold for it by name."""
    from pipelines.catalogue import load_catalogue
    from pipelines.decide import spc_of
    from pipelines.indicators import IndicatorValue
    from pipelines.periods import Month

    ind = next(i for i in load_catalogue() if i.id == "CS03")  # lower is better
    values = [20.0, 22.0, 21.0, 23.0, 20.0, 22.0, 21.0, 23.0, 20.0, 22.0, 21.0, 23.0, 20.0, 22.0, 21.0, 23.0] + [
        25.0
    ] * 8
    series = [
        (Month(2022 + (6 + n) // 12, (6 + n) % 12 + 1), IndicatorValue("CS03", "m", v, None, None, "complete"))
        for n, v in enumerate(values)
    ]
    result = spc_of(ind, series)
    points = result.series
    assert len(points) == 24 and points[0].month == "2022-07"
    assert all(p.mean is not None and p.lower_limit is not None and p.upper_limit is not None for p in points)
    assert all(p.lower_limit < p.mean < p.upper_limit for p in points)
    assert "shift_high" in points[-1].rules and points[-1].judgement == "concern"
    assert points[0].rules == () and points[0].judgement is None
    names = {
        "outside_high",
        "outside_low",
        "shift_high",
        "shift_low",
        "trend_high",
        "trend_low",
        "two_of_three_high",
        "two_of_three_low",
    }
    assert {r for p in points for r in p.rules} <= names
    assert result.conflict is False
    data = chart_data(replace(indicator(polarity="down"), spc=result))
    assert data is not None and data.colours[-1] == CONCERN and data.colours[0] == COMMON
