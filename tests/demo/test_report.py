"""The demo report renderers: rich console tables and the self-contained HTML page."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from contact_engine.demo.report import render_console, render_html, write_html

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}
CHART_IDS = ("attempts-by-day", "outcomes-by-channel", "denials-by-rule")


def make_report() -> dict[str, Any]:
    return {
        "accounts": 2000,
        "days": 3,
        "seed": 7,
        "attempts": {"sms": 6, "voice": 15, "email": 30},
        "outcomes": {
            "no_answer": 900,
            "conversation": 610,
            "machine": 120,
            "busy": 80,
            "delivered": 1190,
            "refused_third_party": 12,
            "failed": 3,
        },
        "denied": {"CN-HOURS": 40, "CN-DAILY-CAP": 300, "REGF-7IN7": 12},
        "violations": 0,
        "recordings": 610,
        "qa": {"transcribed": 5, "flagged": 2},
        "collected_amount": "123456.78",
        "series": {
            "days": ["2026-11-01", "2026-11-02", "2026-11-03"],
            "attempts_by_day": {"sms": [1, 2, 3], "voice": [4, 5, 6], "email": [7, 8, 15]},
            "outcomes_by_channel": {
                "voice": {"no_answer": 900, "conversation": 610, "machine": 120, "busy": 80},
                "sms": {"delivered": 800, "failed": 0},
                "email": {"delivered": 390, "failed": 3},
            },
            "denied_by_day": [100, 200, 52],
            "collected_by_day": ["0.00", "100.50", "123356.28"],
        },
        "handoffs": {"collector": 120, "legal": 40},
        "timing": {"wall_s": 12.3, "attempts_per_s": 290.1},
    }


def zero_report() -> dict[str, Any]:
    return {
        "accounts": 0,
        "days": 2,
        "seed": 0,
        "attempts": {"sms": 0, "voice": 0, "email": 0},
        "outcomes": {},
        "denied": {},
        "violations": 0,
        "recordings": 0,
        "qa": {"transcribed": 0, "flagged": 0},
        "collected_amount": "0.00",
        "series": {
            "days": ["2026-11-01", "2026-11-02"],
            "attempts_by_day": {"sms": [0, 0], "voice": [0, 0], "email": [0, 0]},
            "outcomes_by_channel": {"voice": {"no_answer": 0}, "sms": {}, "email": {}},
            "denied_by_day": [0, 0],
            "collected_by_day": ["0.00", "0.00"],
        },
        "handoffs": {"collector": 0, "legal": 0},
        "timing": {"wall_s": 0.0, "attempts_per_s": 0.0},
    }


class PageParser(HTMLParser):
    """Checks that every non-void element is closed in order; collects rects per chart group."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.counts: dict[str, int] = {}
        self.group_stack: list[str | None] = []
        self.rects: dict[str, list[dict[str, str]]] = {}
        self.texts: list[str] = []
        self.script_tags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag == "script":
            self.script_tags += 1
        attributes = {k: v or "" for k, v in attrs}
        if tag == "g":
            self.group_stack.append(attributes.get("id"))
        if tag == "rect":
            group = next((g for g in reversed(self.group_stack) if g), None)
            if group is not None:
                self.rects.setdefault(group, []).append(attributes)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.errors.append(f"self-closing <{tag}/>")  # the page closes every element explicitly
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> does not close {self.stack[-1:] or 'anything'}")
            return
        self.stack.pop()
        if tag == "g":
            self.group_stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.append(data.strip())


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return parser


def num(rect: dict[str, str], name: str) -> float:
    return float(rect[name])


# ------------------------------------------------------------------------------------ HTML


def test_page_is_balanced_and_marked_up() -> None:
    page = render_html(make_report())
    parser = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in page
    assert parser.counts["svg"] == 3
    assert parser.counts["rect"] >= 9
    for chart_id in CHART_IDS:
        assert f'<g id="{chart_id}"' in page
    for heading in (
        "Summary / ",
        "概要",
        "Attempts by day / ",
        "每日触达尝试",
        "Outcomes by channel / ",
        "各渠道结果",
        "Denials by rule / ",
        "按规则拒绝",
        "质量检查",
        "移交",
    ):
        assert heading in page


def test_page_is_self_contained() -> None:
    page = render_html(make_report()).lower()
    for external in ("http:", "https:", "<link", "<script", "src=", "@import", "url(", "//"):
        assert external not in page, external


def test_summary_figures_on_page() -> None:
    page = render_html(make_report())
    parser = parse(page)
    for figure in ("2,000", "51", "610", "123,456.78", "352", "290.1", "12.3"):
        assert figure in parser.texts, figure
    assert re.search(r'class="value ok" id="figure-violations">0<', page)
    bad = make_report()
    bad["violations"] = 3
    assert re.search(r'class="value bad" id="figure-violations">3<', render_html(bad))


def test_attempts_chart_has_one_rect_per_nonzero_segment() -> None:
    parser = parse(render_html(make_report()))
    rects = parser.rects["attempts-by-day"]
    assert len(rects) == 9  # 3 days x 3 channels, all non-zero
    assert {(r["data-day"], r["data-channel"]) for r in rects} == {
        (d, c)
        for d in ("2026-11-01", "2026-11-02", "2026-11-03")
        for c in ("sms", "voice", "email")
    }

    report = make_report()
    report["series"]["attempts_by_day"]["voice"] = [4, 0, 6]
    report["series"]["attempts_by_day"]["email"] = [0, 8, 0]
    rects = parse(render_html(report)).rects["attempts-by-day"]
    assert len(rects) == 6
    assert ("2026-11-02", "voice") not in {(r["data-day"], r["data-channel"]) for r in rects}


def test_attempts_bar_heights_are_proportional_and_stacked() -> None:
    report = make_report()
    rects = parse(render_html(report)).rects["attempts-by-day"]
    by_day = report["series"]["attempts_by_day"]
    days = report["series"]["days"]
    # every segment: height / value is the same constant
    ratios = [num(r, "height") / int(r["data-value"]) for r in rects]
    assert all(ratio == pytest.approx(ratios[0], rel=1e-3) for ratio in ratios)
    for r in rects:
        expected = by_day[r["data-channel"]][days.index(r["data-day"])]
        assert int(r["data-value"]) == expected
    # segments of one day touch: each starts where the one below ends, same x and width
    for day in days:
        stack = [r for r in rects if r["data-day"] == day]
        assert len({(r["x"], r["width"]) for r in stack}) == 1
        for below, above in zip(stack, stack[1:], strict=False):
            assert num(above, "y") + num(above, "height") == pytest.approx(
                num(below, "y"), abs=2e-3
            )
    # stack heights follow the day totals (12, 15, 24)
    totals = {day: sum(num(r, "height") for r in rects if r["data-day"] == day) for day in days}
    assert totals["2026-11-01"] / totals["2026-11-03"] == pytest.approx(12 / 24, rel=1e-3)
    assert totals["2026-11-02"] / totals["2026-11-03"] == pytest.approx(15 / 24, rel=1e-3)
    # bars share one baseline
    assert (
        len({round(num(r, "y") + num(r, "height"), 2) for r in rects if r["data-channel"] == "sms"})
        == 1
    )


def test_outcomes_chart_encodes_each_nonzero_outcome() -> None:
    report = make_report()
    rects = parse(render_html(report)).rects["outcomes-by-channel"]
    expected = {
        (ch, name): value
        for ch, values in report["series"]["outcomes_by_channel"].items()
        for name, value in values.items()
        if value
    }
    assert len(rects) == len(expected) == 7  # sms "failed": 0 draws nothing
    assert {(r["data-channel"], r["data-outcome"]): int(r["data-value"]) for r in rects} == expected
    tallest = max(rects, key=lambda r: int(r["data-value"]))
    for r in rects:
        assert num(r, "height") / num(tallest, "height") == pytest.approx(
            int(r["data-value"]) / int(tallest["data-value"]), rel=1e-3
        )


def test_denials_chart_is_sorted_and_proportional() -> None:
    rects = parse(render_html(make_report())).rects["denials-by-rule"]
    assert [r["data-rule"] for r in rects] == ["CN-DAILY-CAP", "CN-HOURS", "REGF-7IN7"]
    assert [num(r, "y") for r in rects] == sorted(num(r, "y") for r in rects)
    assert num(rects[1], "width") / num(rects[0], "width") == pytest.approx(40 / 300, rel=1e-3)
    assert num(rects[2], "width") / num(rects[0], "width") == pytest.approx(12 / 300, rel=1e-3)


def test_rule_ids_and_other_text_are_escaped() -> None:
    report = make_report()
    report["denied"]["<script>alert('x')</script>"] = 5
    report["series"]["days"][0] = '2026-11-01"><b>'
    report["handoffs"]["<img src=x onerror=alert(1)>"] = 1
    report["seed"] = "<i>7</i>"
    page = render_html(report)
    parser = parse(page)
    assert parser.script_tags == 0
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "<b>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(" in page
    assert "<script>alert('x')</script>" in parser.texts  # shown as text, not run
    rules = [r["data-rule"] for r in parser.rects["denials-by-rule"]]
    assert "<script>alert('x')</script>" in rules


def test_all_zero_report_renders_without_bars() -> None:
    page = render_html(zero_report())
    parser = parse(page)
    assert parser.rects == {}  # no chart group draws a bar
    assert parser.counts["svg"] == 3
    assert "No data / 无数据" in parser.texts
    assert "No denials / 无拒绝" in parser.texts
    assert re.search(r'class="value ok" id="figure-violations">0<', page)


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r["series"].update(days=[], attempts_by_day={}, outcomes_by_channel={}),
        lambda r: r["series"].update(attempts_by_day={"sms": [3]}),  # shorter than days
        lambda r: r.update(series={}, denied={"CN-HOURS": 0}),
        lambda r: r.update(collected_amount="not-a-number", timing={}),
    ],
    ids=["no-days", "short-series", "no-series-zero-denial", "malformed"],
)
def test_sparse_or_odd_reports_render(change: Any) -> None:
    report = copy.deepcopy(zero_report())
    change(report)
    parse(render_html(report))


def test_zero_denial_rule_is_listed_without_a_bar() -> None:
    report = make_report()
    report["denied"]["US-QUIET"] = 0
    parser = parse(render_html(report))
    assert "US-QUIET" in parser.texts
    assert len(parser.rects["denials-by-rule"]) == 3


def test_write_html(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    result = write_html(make_report(), target)
    assert result == target
    assert target.read_text(encoding="utf-8") == render_html(make_report())


# --------------------------------------------------------------------------------- console


def console_output(report: dict[str, Any]) -> tuple[str, str]:
    console = Console(record=True, width=120)
    render_console(report, console)
    styled = console.export_text(styles=True, clear=False)
    return console.export_text(), styled


def _line(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


def test_console_shows_the_figures() -> None:
    text, _ = console_output(make_report())
    for figure in (
        "2,000",
        "123,456.78",
        "610",
        "290.1",
        "12.3",
        "CN-DAILY-CAP",
        "300",
        "REGF-7IN7",
        "collector",
        "120",
    ):
        assert figure in text, figure
    for heading in (
        "Summary / 概要",
        "Attempts",
        "触达尝试",
        "Outcomes / 结果",
        "按规则拒绝",
        "质量检查",
        "移交",
    ):
        assert heading in text, heading
    assert "51" in _line(text, "Total")
    assert "800" in _line(text, "delivered") and "1,190" in _line(text, "delivered")
    assert "5" in _line(text, "Transcribed") and "2" in _line(text, "Flagged")


def test_console_sorts_denials_by_count() -> None:
    text, _ = console_output(make_report())
    positions = [text.index(rule) for rule in ("CN-DAILY-CAP", "CN-HOURS", "REGF-7IN7")]
    assert positions == sorted(positions)


def test_console_violations_green_when_zero_red_otherwise() -> None:
    _, styled = console_output(make_report())
    line = _line(styled, "Violations")
    assert "\x1b[1;32m" in line and "\x1b[1;31m" not in line

    report = make_report()
    report["violations"] = 2
    _, styled = console_output(report)
    line = _line(styled, "Violations")
    assert "\x1b[1;31m" in line and "\x1b[1;32m" not in line


def test_console_prints_rule_ids_literally() -> None:
    report = make_report()
    report["denied"]["[bold]X-RULE[/bold]"] = 1
    text, _ = console_output(report)
    assert "[bold]X-RULE[/bold]" in text


def test_console_handles_an_all_zero_report() -> None:
    text, styled = console_output(zero_report())
    assert "none / 无" in text
    assert "\x1b[1;32m" in _line(styled, "Violations")
