"""Geometry for a server-rendered SVG bar chart (no JavaScript, nothing to vendor).

The template draws what this computes: one bar per day (zero days are bars of height zero
and rows in the data table), a few horizontal grid lines at round amounts, date labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    value: int


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class Label:
    x: float
    text: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[Label]
    total: int
    peak: Bar | None


def nice_step(value: int, steps: int, unit: int) -> int:
    """The smallest 1, 2 or 5 × 10^k (at least ``unit``) with ``steps`` of them ≥ value."""
    step = max(unit, 1)
    while True:
        for factor in (1, 2, 5):
            if step * factor * steps >= value:
                return step * factor
        step *= 10


def bar_chart(
    days: list[date],
    values: list[int],
    *,
    unit: int = 100,
    width: int = 720,
    height: int = 260,
    gridlines: int = 4,
) -> BarChart:
    """``values`` are integer minor units; ``unit`` is one major unit (100 cents), so the
    grid lines fall on whole amounts."""
    if len(days) != len(values):
        raise ValueError("one value per day")
    left, top, right, bottom = 84.0, 12.0, float(width - 28), float(height - 28)
    step = nice_step(max(values, default=0), gridlines, unit)
    ceiling = step * gridlines
    plot_h, slot = bottom - top, (right - left) / max(len(days), 1)
    bars = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = round(plot_h * value / ceiling, 2)
        bars.append(
            Bar(
                x=round(left + i * slot + slot * 0.15, 2),
                y=round(bottom - h, 2),
                width=round(slot * 0.7, 2),
                height=h,
                day=day,
                value=value,
            )
        )
    ticks = [
        Tick(y=round(bottom - plot_h * k / gridlines, 2), value=step * k)
        for k in range(gridlines + 1)
    ]
    last = len(days) - 1
    labels = [
        Label(x=round(left + i * slot + slot / 2, 2), text=f"{day.day} {day:%b}")
        for i, day in enumerate(days)
        if (last - i) % 7 == 0
    ]
    peak = max(bars, key=lambda b: (b.value, b.day)) if any(values) else None
    return BarChart(width, height, left, top, right, bottom, bars, ticks, labels, sum(values), peak)
