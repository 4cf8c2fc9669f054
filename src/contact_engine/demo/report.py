"""Render the demo's report: rich tables for the console, one self-contained HTML page.

The report is the plain dict the demo produces (counts are ints, money is a decimal string,
``series`` holds per-day lists aligned with ``series["days"]``). Rendering is tolerant: a
missing or malformed figure shows as zero rather than failing, and every chart copes with
no data at all (all zeros, no days, no denials) without dividing by zero.

The HTML page has no external resources (no scripts, stylesheets, fonts or images from the
network); the charts are inline SVG drawn here. All text coming from the report is escaped:
the page goes through a jinja2 template with autoescape, and the SVG is assembled with
:func:`html.escape` on every attribute value and text node.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["render_console", "render_html", "write_html"]

#: Channels in display order; any other channel found in the report follows, sorted.
CHANNEL_ORDER = ("sms", "voice", "email")
CHANNEL_COLORS = {"sms": "#2b8cbe", "voice": "#e6550d", "email": "#31a354"}
CHANNEL_NAMES_ZH = {"sms": "短信", "voice": "语音", "email": "电子邮件"}

#: Outcomes in display order; others follow, sorted.
OUTCOME_ORDER = (
    "conversation",
    "delivered",
    "no_answer",
    "machine",
    "busy",
    "refused_third_party",
    "failed",
)
OUTCOME_COLORS = {
    "conversation": "#1b9e77",
    "delivered": "#66a61e",
    "no_answer": "#7570b3",
    "machine": "#e7298a",
    "busy": "#e6ab02",
    "refused_third_party": "#a6761d",
    "failed": "#d95f02",
}
FALLBACK_COLORS = ("#666666", "#1f78b4", "#b15928", "#6a3d9a", "#33a02c", "#fb9a99")
DENIAL_COLOR = "#c0392b"

HANDOFF_NAMES_ZH = {"collector": "催收员", "legal": "法务"}


# --------------------------------------------------------------------------- value helpers


def _int(value: Any) -> int:
    """A count from the report; anything missing or malformed counts as zero."""
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return 0.0
    return result if result == result else 0.0  # NaN -> 0


def _decimal(value: Any) -> Decimal | None:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return result if result.is_finite() else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _sequence(value: Any) -> Sequence[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return value
    return []


def _fmt_int(value: int) -> str:
    return f"{value:,}"


def _fmt_money(value: Any) -> str:
    amount = _decimal(value)
    if amount is None:
        return str(value) if value is not None else "0.00"
    return f"{amount:,.2f}"


def _fmt_float(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def _ordered(keys: Iterable[str], preferred: Sequence[str]) -> list[str]:
    """``keys`` with the ``preferred`` ones first (in that order), the rest sorted."""
    present = {str(k) for k in keys}
    head = [k for k in preferred if k in present]
    return head + sorted(present - set(head))


def _color(key: str, palette: Mapping[str, str], index: int) -> str:
    return palette.get(key, FALLBACK_COLORS[index % len(FALLBACK_COLORS)])


def _counts(value: Any) -> dict[str, int]:
    return {str(k): _int(v) for k, v in _mapping(value).items()}


def _channels(report: Mapping[str, Any]) -> list[str]:
    series = _mapping(report.get("series"))
    keys: set[str] = set(_counts(report.get("attempts")))
    keys |= {str(k) for k in _mapping(series.get("attempts_by_day"))}
    keys |= {str(k) for k in _mapping(series.get("outcomes_by_channel"))}
    return _ordered(keys, CHANNEL_ORDER)


def _denials_sorted(report: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Denials by rule, largest first; ties by rule id."""
    return sorted(_counts(report.get("denied")).items(), key=lambda kv: (-kv[1], kv[0]))


def _total_attempts(report: Mapping[str, Any]) -> int:
    return sum(_counts(report.get("attempts")).values())


# --------------------------------------------------------------------------------- console


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", header_style="bold")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    return table


def render_console(report: Mapping[str, Any], console: Console) -> None:
    """Print the report as a few readable tables with bilingual (English / 中文) headings."""
    violations = _int(report.get("violations"))
    timing = _mapping(report.get("timing"))

    summary = _table("Summary / 概要", "Figure / 指标", "Value / 数值")
    summary.add_row("Accounts / 账户", _fmt_int(_int(report.get("accounts"))))
    summary.add_row("Days / 天数", _fmt_int(_int(report.get("days"))))
    summary.add_row("Seed / 随机种子", Text(str(report.get("seed", ""))))
    summary.add_row("Attempts / 触达尝试", _fmt_int(_total_attempts(report)))
    summary.add_row(
        "Violations / 违规",
        _fmt_int(violations),
        style="bold green" if violations == 0 else "bold red",
    )
    summary.add_row("Recordings / 录音", _fmt_int(_int(report.get("recordings"))))
    summary.add_row("Collected / 回收金额", Text(_fmt_money(report.get("collected_amount"))))
    summary.add_row("Wall time / 耗时 (s)", _fmt_float(_float(timing.get("wall_s"))))
    summary.add_row(
        "Throughput / 吞吐 (attempts/s)", _fmt_float(_float(timing.get("attempts_per_s")))
    )
    console.print(summary)

    attempts = _counts(report.get("attempts"))
    total = sum(attempts.values())
    table = _table(
        "Attempts by channel / 各渠道触达尝试", "Channel / 渠道", "Attempts / 次数", "Share / 占比"
    )
    for channel in _ordered(attempts, CHANNEL_ORDER):
        count = attempts[channel]
        share = f"{100 * count / total:.1f}%" if total else "-"
        table.add_row(Text(_channel_label(channel)), _fmt_int(count), share)
    table.add_row(Text("Total / 合计", style="bold"), Text(_fmt_int(total), style="bold"), "")
    console.print(table)

    outcomes = _counts(report.get("outcomes"))
    by_channel = {
        str(ch): _counts(values)
        for ch, values in _mapping(
            _mapping(report.get("series")).get("outcomes_by_channel")
        ).items()
    }
    channels = _ordered(by_channel, CHANNEL_ORDER)
    names = set(outcomes)
    for values in by_channel.values():
        names |= set(values)
    table = _table(
        "Outcomes / 结果",
        "Outcome / 结果",
        *(_channel_label(ch) for ch in channels),
        "Total / 合计",
    )
    rows = sorted(
        _ordered(names, OUTCOME_ORDER),
        key=lambda name: -outcomes.get(name, sum(v.get(name, 0) for v in by_channel.values())),
    )
    for name in rows:
        per_channel = [_fmt_int(by_channel[ch].get(name, 0)) for ch in channels]
        row_total = outcomes.get(name, sum(v.get(name, 0) for v in by_channel.values()))
        table.add_row(Text(name), *per_channel, _fmt_int(row_total))
    console.print(table)

    denials = _denials_sorted(report)
    table = _table("Denials by rule / 按规则拒绝", "Rule / 规则", "Denied / 拒绝次数")
    for rule, count in denials:
        table.add_row(Text(rule), _fmt_int(count))
    if not denials:
        table.add_row(Text("none / 无", style="dim"), "0")
    console.print(table)

    qa = _mapping(report.get("qa"))
    table = _table("Quality assurance / 质量检查", "Figure / 指标", "Count / 数量")
    table.add_row("Transcribed / 已转写", _fmt_int(_int(qa.get("transcribed"))))
    table.add_row("Flagged / 已标记", _fmt_int(_int(qa.get("flagged"))))
    console.print(table)

    handoffs = _counts(report.get("handoffs"))
    table = _table("Hand-offs / 移交", "To / 移交对象", "Count / 数量")
    for target in _ordered(handoffs, ("collector", "legal")):
        zh = HANDOFF_NAMES_ZH.get(target)
        table.add_row(Text(f"{target} / {zh}" if zh else target), _fmt_int(handoffs[target]))
    if not handoffs:
        table.add_row(Text("none / 无", style="dim"), "0")
    console.print(table)


def _channel_label(channel: str) -> str:
    zh = CHANNEL_NAMES_ZH.get(channel)
    return f"{channel} / {zh}" if zh else channel


# ------------------------------------------------------------------------------------- SVG

_e = html.escape  # quote=True by default: safe for attribute values and text nodes

CHART_WIDTH = 760
CHART_HEIGHT = 300
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MARGIN_TOP = 20
MARGIN_BOTTOM = 44
NO_DATA = "No data / 无数据"


def _n(value: float) -> str:
    """A coordinate: three decimals, enough for the tests to check proportions exactly."""
    return f"{value:.3f}"


def _axis_label(value: float) -> str:
    return _fmt_int(int(value)) if float(value).is_integer() else _fmt_float(value)


def _svg_open(chart_id: str, title: str, width: float, height: float) -> list[str]:
    return [
        f'<svg class="chart" role="img" aria-labelledby="{_e(chart_id)}-title" '
        f'viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}" '
        f'preserveAspectRatio="xMinYMin meet">',
        f'<title id="{_e(chart_id)}-title">{_e(title)}</title>',
    ]


def _no_data(width: float, height: float, message: str = NO_DATA) -> str:
    return (
        f'<text class="no-data" x="{_n(width / 2)}" y="{_n(height / 2)}" '
        f'text-anchor="middle">{_e(message)}</text>'
    )


def _y_axis(
    max_value: float, plot_left: float, plot_right: float, plot_bottom: float, plot_height: float
) -> list[str]:
    """Horizontal grid lines and labels at 0, 1/4 ... 4/4 of ``max_value`` (lines, no rects)."""
    parts = ['<g class="axis">']
    steps = 4 if max_value > 0 else 0
    for i in range(steps + 1):
        value = max_value * i / steps if steps else 0.0
        y = plot_bottom - (plot_height * i / steps if steps else 0.0)
        parts.append(
            f'<line x1="{_n(plot_left)}" y1="{_n(y)}" x2="{_n(plot_right)}" y2="{_n(y)}"></line>'
        )
        parts.append(
            f'<text x="{_n(plot_left - 6)}" y="{_n(y + 4)}" text-anchor="end">'
            f"{_e(_axis_label(round(value, 1)))}</text>"
        )
    parts.append("</g>")
    return parts


def _legend(
    items: Sequence[tuple[str, str]], x: float, y: float, max_x: float
) -> tuple[list[str], float]:
    """A colour legend, wrapping at ``max_x``; outside the bar groups so it never counts as a
    bar. Returns the SVG parts and the y of its last line."""
    parts = ['<g class="legend">']
    offset = 0.0
    for label, color in items:
        item_w = 14 + 6.5 * len(label) + 16
        if offset and x + offset + item_w > max_x:
            offset = 0.0
            y += 16
        parts.append(
            f'<rect x="{_n(x + offset)}" y="{_n(y - 10)}" width="10" height="10" '
            f'fill="{_e(color)}"></rect>'
        )
        parts.append(f'<text x="{_n(x + offset + 14)}" y="{_n(y)}">{_e(label)}</text>')
        offset += item_w
    parts.append("</g>")
    return parts, y


@dataclass(frozen=True)
class _Plot:
    """The plot area of a vertical bar chart (inside its axes and legend)."""

    left: float
    width: float
    bottom: float
    height: float


def _bar_frame(chart_id: str, title: str, max_value: float, legend_items: Sequence[tuple[str, str]],
               top_pad: float) -> tuple[list[str], _Plot | None]:
    """Open a vertical bar chart: the frame, then "no data" (plot None) when ``max_value`` is
    not positive, else the legend above the plot (``top_pad`` below it) and the y axis."""
    width, height = CHART_WIDTH, CHART_HEIGHT
    plot_left, plot_right = MARGIN_LEFT, width - MARGIN_RIGHT
    plot_bottom = height - MARGIN_BOTTOM
    parts = _svg_open(chart_id, title, width, height)
    if max_value <= 0:
        parts.append(_no_data(width, height))
        return parts, None
    legend, legend_y = _legend(legend_items, plot_left, MARGIN_TOP - 4, plot_right)
    plot_top = legend_y + top_pad
    plot = _Plot(plot_left, plot_right - plot_left, plot_bottom, plot_bottom - plot_top)
    parts += _y_axis(max_value, plot_left, plot_right, plot_bottom, plot.height)
    parts += legend
    return parts, plot


def _day_label(day: str) -> str:
    """``2026-11-01`` -> ``11-01``; anything else as given."""
    if len(day) == 10 and day[4] == "-" and day[7] == "-":
        return day[5:]
    return day


def _attempts_chart(report: Mapping[str, Any]) -> str:
    """Stacked bars: one bar per day, one segment (rect) per channel with attempts that day."""
    series = _mapping(report.get("series"))
    days = [str(d) for d in _sequence(series.get("days"))]
    by_day = _mapping(series.get("attempts_by_day"))
    channels = _ordered(by_day, CHANNEL_ORDER)
    values: dict[str, list[int]] = {}
    for ch in channels:
        raw = [_int(v) for v in _sequence(by_day.get(ch))][: len(days)]
        values[ch] = raw + [0] * (len(days) - len(raw))  # pad a short series with zeros
    totals = [sum(values[ch][i] for ch in channels) for i in range(len(days))]
    max_total = max(totals, default=0)

    colors = {ch: _color(ch, CHANNEL_COLORS, i) for i, ch in enumerate(channels)}
    parts, plot = _bar_frame("attempts-by-day", "Attempts by day / 每日触达尝试", max_total,
                             [(ch, colors[ch]) for ch in channels], top_pad=14)
    if plot is None:
        parts.append("</svg>")
        return "\n".join(parts)
    plot_left, plot_w, plot_bottom, plot_h = plot.left, plot.width, plot.bottom, plot.height

    slot = plot_w / len(days)
    bar_w = slot * 0.7
    label_every = max(1, -(-len(days) // 15))  # at most ~15 labels on the x axis
    parts.append('<g id="attempts-by-day" class="bars">')
    for i, day in enumerate(days):
        x = plot_left + slot * i + (slot - bar_w) / 2
        y = float(plot_bottom)
        for ch in channels:
            value = values[ch][i]
            if value <= 0:
                continue
            h = plot_h * value / max_total
            y -= h
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(bar_w)}" height="{_n(h)}" '
                f'fill="{_e(colors[ch])}" data-day="{_e(day)}" data-channel="{_e(ch)}" '
                f'data-value="{value}"><title>{_e(f"{day} {ch}: {value:,}")}</title></rect>'
            )
    parts.append("</g>")
    parts.append('<g class="x-labels">')
    for i, day in enumerate(days):
        if i % label_every:
            continue
        cx = plot_left + slot * (i + 0.5)
        parts.append(
            f'<text x="{_n(cx)}" y="{_n(plot_bottom + 16)}" text-anchor="middle">'
            f"{_e(_day_label(day))}</text>"
        )
    parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _outcomes_chart(report: Mapping[str, Any]) -> str:
    """Grouped bars: one group per channel, one bar (rect) per non-zero outcome."""
    by_channel = {
        str(ch): _counts(values)
        for ch, values in _mapping(
            _mapping(report.get("series")).get("outcomes_by_channel")
        ).items()
    }
    channels = _ordered(by_channel, CHANNEL_ORDER)
    names: set[str] = set()
    for counts in by_channel.values():
        names |= set(counts)
    outcomes = _ordered(names, OUTCOME_ORDER)
    max_value = max((v for counts in by_channel.values() for v in counts.values()), default=0)

    colors = {name: _color(name, OUTCOME_COLORS, i) for i, name in enumerate(outcomes)}
    # room above the tallest bar for its value label
    parts, plot = _bar_frame("outcomes-by-channel", "Outcomes by channel / 各渠道结果", max_value,
                             [(name, colors[name]) for name in outcomes], top_pad=26)
    if plot is None:
        parts.append("</svg>")
        return "\n".join(parts)
    plot_left, plot_w, plot_bottom, plot_h = plot.left, plot.width, plot.bottom, plot.height

    slot = plot_w / len(channels)
    parts.append('<g id="outcomes-by-channel" class="bars">')
    for i, ch in enumerate(channels):
        bars = [(name, by_channel[ch].get(name, 0)) for name in outcomes]
        bars = [(name, value) for name, value in bars if value > 0]
        if not bars:
            continue
        group_w = slot * 0.8
        bar_w = group_w / len(bars)
        x0 = plot_left + slot * i + (slot - group_w) / 2
        for j, (name, value) in enumerate(bars):
            h = plot_h * value / max_value
            x = x0 + bar_w * j
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(plot_bottom - h)}" width="{_n(bar_w * 0.9)}" '
                f'height="{_n(h)}" fill="{_e(colors[name])}" data-channel="{_e(ch)}" '
                f'data-outcome="{_e(name)}" data-value="{value}">'
                f"<title>{_e(f'{ch} {name}: {value:,}')}</title></rect>"
            )
            parts.append(
                f'<text class="value" x="{_n(x + bar_w * 0.45)}" y="{_n(plot_bottom - h - 3)}" '
                f'text-anchor="middle">{_e(_fmt_int(value))}</text>'
            )
    parts.append("</g>")
    parts.append('<g class="x-labels">')
    for i, ch in enumerate(channels):
        parts.append(
            f'<text x="{_n(plot_left + slot * (i + 0.5))}" y="{_n(plot_bottom + 18)}" '
            f'text-anchor="middle">{_e(_channel_label(ch))}</text>'
        )
    parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _denials_chart(report: Mapping[str, Any]) -> str:
    """Horizontal bars: one row per rule, largest first; a rect for each non-zero count."""
    denials = _denials_sorted(report)
    max_value = max((count for _, count in denials), default=0)
    row_h = 24.0
    label_w = min(260.0, max(80.0, 7.5 * max((len(rule) for rule, _ in denials), default=0)))
    width = float(CHART_WIDTH)
    plot_left, plot_right = label_w + 12, width - 70
    plot_w = plot_right - plot_left
    height = max(60.0, 16 + row_h * len(denials))

    parts = _svg_open("denials-by-rule", "Denials by rule / 按规则拒绝", width, height)
    if not denials:
        parts.append(_no_data(width, height, "No denials / 无拒绝"))
        parts.append("</svg>")
        return "\n".join(parts)

    parts.append('<g id="denials-by-rule" class="bars">')
    for i, (rule, count) in enumerate(denials):
        y = 8 + row_h * i
        parts.append(
            f'<text class="rule" x="{_n(label_w)}" y="{_n(y + row_h / 2 + 4)}" '
            f'text-anchor="end">{_e(rule)}</text>'
        )
        w = plot_w * count / max_value if max_value > 0 else 0.0
        if count > 0:
            parts.append(
                f'<rect x="{_n(plot_left)}" y="{_n(y + 3)}" width="{_n(w)}" '
                f'height="{_n(row_h - 6)}" fill="{DENIAL_COLOR}" data-rule="{_e(rule)}" '
                f'data-value="{count}"><title>{_e(f"{rule}: {count:,}")}</title></rect>'
            )
        parts.append(
            f'<text class="value" x="{_n(plot_left + w + 6)}" y="{_n(y + row_h / 2 + 4)}">'
            f"{_e(_fmt_int(count))}</text>"
        )
    parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------ HTML

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Contact engine demo report / 演示报告</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 820px; padding: 0 1rem; color: #222; background: #fff; }
h1, h2 { font-weight: 600; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .3rem; }
.zh { color: #555; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: .8rem; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6rem .8rem; }
.card .label { font-size: .8rem; color: #555; }
.card .value { font-size: 1.4rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; }
.bad { color: #c0392b; }
table { border-collapse: collapse; margin-top: .5rem; }
th, td { padding: .25rem .8rem; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg.chart { width: 100%; height: auto; font-size: 11px; }
svg.chart .axis line { stroke: #e3e3e3; }
svg.chart text { fill: #444; }
svg.chart .no-data { font-size: 14px; fill: #888; }
footer { margin-top: 2.5rem; font-size: .8rem; color: #777; }
</style>
</head>
<body>
<h1>Contact engine demo report / <span class="zh" lang="zh-Hans">催收触达引擎演示报告</span></h1>
<p>{{ accounts }} accounts, {{ days }} simulated days, seed {{ seed }}.
<span lang="zh-Hans">{{ accounts }} 个账户，模拟 {{ days }} 天，随机种子 {{ seed }}。</span></p>

<section id="summary">
<h2>Summary / <span class="zh" lang="zh-Hans">概要</span></h2>
<div class="cards">
{% for card in cards %}
<div class="card"><div class="label">{{ card.en }} / <span lang="zh-Hans">{{ card.zh }}</span></div>
<div class="value{% if card.css %} {{ card.css }}{% endif %}" id="figure-{{ card.key }}">{{ card.value }}</div></div>
{% endfor %}
</div>
</section>

<section id="attempts">
<h2>Attempts by day / <span class="zh" lang="zh-Hans">每日触达尝试</span></h2>
{{ attempts_chart }}
<table>
<thead><tr><th>Channel / <span lang="zh-Hans">渠道</span></th><th>Attempts / <span lang="zh-Hans">次数</span></th></tr></thead>
<tbody>
{% for channel, count in attempts %}<tr><td>{{ channel }}</td><td class="num">{{ count }}</td></tr>
{% endfor %}</tbody>
</table>
</section>

<section id="outcomes">
<h2>Outcomes by channel / <span class="zh" lang="zh-Hans">各渠道结果</span></h2>
{{ outcomes_chart }}
<table>
<thead><tr><th>Outcome / <span lang="zh-Hans">结果</span></th><th>Total / <span lang="zh-Hans">合计</span></th></tr></thead>
<tbody>
{% for name, count in outcomes %}<tr><td>{{ name }}</td><td class="num">{{ count }}</td></tr>
{% endfor %}</tbody>
</table>
</section>

<section id="denials">
<h2>Denials by rule / <span class="zh" lang="zh-Hans">按规则拒绝</span></h2>
{{ denials_chart }}
</section>

<section id="qa">
<h2>Quality assurance / <span class="zh" lang="zh-Hans">质量检查</span></h2>
<table><tbody>
<tr><td>Transcribed / <span lang="zh-Hans">已转写</span></td><td class="num">{{ qa_transcribed }}</td></tr>
<tr><td>Flagged / <span lang="zh-Hans">已标记</span></td><td class="num">{{ qa_flagged }}</td></tr>
</tbody></table>
</section>

<section id="handoffs">
<h2>Hand-offs / <span class="zh" lang="zh-Hans">移交</span></h2>
<table><tbody>
{% for target, zh, count in handoffs %}<tr><td>{{ target }}{% if zh %} / <span lang="zh-Hans">{{ zh }}</span>{% endif %}</td><td class="num">{{ count }}</td></tr>
{% else %}<tr><td>none / <span lang="zh-Hans">无</span></td><td class="num">0</td></tr>
{% endfor %}</tbody></table>
</section>

<footer>Wall time {{ wall_s }} s, {{ attempts_per_s }} attempts/s.
<span lang="zh-Hans">耗时 {{ wall_s }} 秒，每秒 {{ attempts_per_s }} 次尝试。</span></footer>
</body>
</html>
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def render_html(report: Mapping[str, Any]) -> str:
    """One self-contained HTML page: summary figures and inline SVG charts, all text escaped."""
    violations = _int(report.get("violations"))
    timing = _mapping(report.get("timing"))
    cards = [
        {
            "key": "accounts",
            "en": "Accounts",
            "zh": "账户",
            "value": _fmt_int(_int(report.get("accounts"))),
            "css": "",
        },
        {
            "key": "attempts",
            "en": "Attempts",
            "zh": "触达尝试",
            "value": _fmt_int(_total_attempts(report)),
            "css": "",
        },
        {
            "key": "violations",
            "en": "Violations",
            "zh": "违规",
            "value": _fmt_int(violations),
            "css": "ok" if violations == 0 else "bad",
        },
        {
            "key": "denied",
            "en": "Denied",
            "zh": "拒绝",
            "value": _fmt_int(sum(_counts(report.get("denied")).values())),
            "css": "",
        },
        {
            "key": "recordings",
            "en": "Recordings",
            "zh": "录音",
            "value": _fmt_int(_int(report.get("recordings"))),
            "css": "",
        },
        {
            "key": "collected",
            "en": "Collected",
            "zh": "回收金额",
            "value": _fmt_money(report.get("collected_amount")),
            "css": "",
        },
        {
            "key": "wall-time",
            "en": "Wall time (s)",
            "zh": "耗时（秒）",
            "value": _fmt_float(_float(timing.get("wall_s"))),
            "css": "",
        },
        {
            "key": "throughput",
            "en": "Attempts per second",
            "zh": "每秒触达",
            "value": _fmt_float(_float(timing.get("attempts_per_s"))),
            "css": "",
        },
    ]
    handoffs = _counts(report.get("handoffs"))
    attempts = _counts(report.get("attempts"))
    outcomes = _counts(report.get("outcomes"))
    qa = _mapping(report.get("qa"))
    page = _ENV.from_string(_TEMPLATE).render(
        accounts=_fmt_int(_int(report.get("accounts"))),
        days=_fmt_int(_int(report.get("days"))),
        seed=str(report.get("seed", "")),
        cards=cards,
        attempts_chart=Markup(_attempts_chart(report)),  # built with html.escape throughout
        outcomes_chart=Markup(_outcomes_chart(report)),
        denials_chart=Markup(_denials_chart(report)),
        attempts=[
            (_channel_label(ch), _fmt_int(attempts[ch])) for ch in _ordered(attempts, CHANNEL_ORDER)
        ],
        outcomes=[
            (name, _fmt_int(count))
            for name, count in sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        qa_transcribed=_fmt_int(_int(qa.get("transcribed"))),
        qa_flagged=_fmt_int(_int(qa.get("flagged"))),
        handoffs=[
            (target, HANDOFF_NAMES_ZH.get(target, ""), _fmt_int(handoffs[target]))
            for target in _ordered(handoffs, ("collector", "legal"))
        ],
        wall_s=_fmt_float(_float(timing.get("wall_s"))),
        attempts_per_s=_fmt_float(_float(timing.get("attempts_per_s"))),
    )
    return str(page)


def write_html(report: Mapping[str, Any], path: Path) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8, parent folders created); return ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
