"""Inline SVG charts drawn on the server (no script, no style attributes: CSS classes)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 28


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10ⁿ)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    if value == int(value) or value >= 10:
        text = f"{value:.0f}"
    elif value >= 1:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2g}"
    return text.replace(".", ",")


def _frame(title: str, labels: Sequence[str], top: float, unit: str) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(5):
        value = top * step / 4
        y = TOP + plot_h - plot_h * step / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" '
                     f'y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{escape(_number(value))}{escape(unit)}</text>')
    slot = plot_w / max(len(labels), 1)
    every = max(1, math.ceil(len(labels) / 8))
    for index, label in enumerate(labels):
        if index % every == 0:
            x = LEFT + slot * index + slot / 2
            parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" '
                         f'text-anchor="middle">{escape(label)}</text>')
    return parts


def bar_chart(title: str, labels: Sequence[str],
              series: Sequence[tuple[str, Sequence[float]]], *, unit: str = "") -> Markup:
    """Grouped bars: one group per label, one bar per series (CSS class = series name)."""
    top = _nice_max(max((v for _, values in series for v in values), default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame(title, labels, top, unit)
    slot = plot_w / max(len(labels), 1)
    bar = slot * 0.8 / max(len(series), 1)
    for s_index, (name, values) in enumerate(series):
        for index, value in enumerate(values):
            if value <= 0:
                continue
            height = plot_h * value / top
            x = LEFT + slot * index + slot * 0.1 + bar * s_index
            parts.append(
                f'<rect class="bar {escape(name)}" x="{x:.1f}" y="{TOP + plot_h - height:.1f}" '
                f'width="{bar:.1f}" height="{height:.1f}"><title>{escape(labels[index])}: '
                f"{escape(_number(value))}{escape(unit)}</title></rect>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated value is escaped


def line_chart(title: str, labels: Sequence[str],
               series: Sequence[tuple[str, Sequence[float | None]]], *,
               unit: str = "") -> Markup:
    """Lines with dots; ``None`` leaves a gap (an hour without answers)."""
    top = _nice_max(max((v for _, values in series for v in values if v is not None),
                        default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = _frame(title, labels, top, unit)
    slot = plot_w / max(len(labels), 1)
    for name, values in series:
        runs: list[list[tuple[float, float]]] = [[]]
        for index, value in enumerate(values):
            if value is None:
                runs.append([])
                continue
            x = LEFT + slot * index + slot / 2
            y = TOP + plot_h - plot_h * value / top
            runs[-1].append((x, y))
            parts.append(f'<circle class="dot {escape(name)}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                         f"<title>{escape(labels[index])}: {escape(_number(value))}"
                         f"{escape(unit)}</title></circle>")
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                parts.append(f'<polyline class="line {escape(name)}" points="{points}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated value is escaped
