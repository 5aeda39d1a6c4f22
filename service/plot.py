"""A forecast as an SVG chart: the history, the forecast and its 80% and 95% bands, timestamps on the axis.

Plain SVG written here (no plotting library): the server answers curl and notebooks with it
(`/v1/models/{name}/plot.svg`) and the page at / shows the same picture. Elements carry classes
(`history`, `forecast`, `band band-80`, `band band-95`) so a test or a stylesheet can find them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

WIDTH, HEIGHT = 960, 380
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 40, 56
COLORS = {"history": "#1f2937", "forecast": "#c2410c", 80: "#fb923c", 95: "#fed7aa"}


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 5 x 10^k steps)."""
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.ceil(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _short(label: str) -> str:
    """ISO timestamps on an axis: the date, and the time when it is not midnight."""
    if "T" in label:
        day, clock = label.split("T", 1)
        clock = clock[:5]
        return day if clock == "00:00" else f"{day[5:]} {clock}"
    return label


def render(title: str, history: Sequence[float], forecast: Sequence[float],
           bands: Mapping[int, tuple[Sequence[float], Sequence[float]]],
           history_times: Sequence[str] | None = None, future_times: Sequence[str] | None = None,
           unit: str = "") -> str:
    """One target's history and forecast as an SVG document."""
    n_hist, n_fut = len(history), len(forecast)
    total = n_hist + n_fut
    values = [*history, *forecast] + [v for lo, hi in bands.values() for v in (*lo, *hi)]
    low, high = min(values), max(values)
    pad = (high - low) * 0.05 or 1.0
    low, high = low - pad, high + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: float) -> float:
        return LEFT + plot_w * (i / max(total - 1, 1))

    def y(v: float) -> float:
        return TOP + plot_h * (1 - (v - low) / (high - low))

    def line(points: Sequence[tuple[float, float]]) -> str:
        return "M" + " L".join(f"{x(i):.1f},{y(v):.2f}" for i, v in points)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
             f'height="{HEIGHT}" font-family="system-ui, sans-serif" font-size="12" role="img" '
             f'aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
             f'<text x="{LEFT}" y="24" font-size="15" font-weight="600" fill="#111827">{escape(title)}</text>']
    for tick in nice_ticks(low, high):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                     f'stroke="#e5e7eb"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="#4b5563">'
                     f'{tick:g}</text>')
    if unit:
        parts.append(f'<text x="14" y="{TOP + plot_h / 2:.0f}" transform="rotate(-90 14 {TOP + plot_h / 2:.0f})" '
                     f'text-anchor="middle" fill="#4b5563">{escape(unit)}</text>')
    # the bands from the last observed point, widest first so the narrower one lies on top
    for level in sorted(bands, reverse=True):
        lo, hi = bands[level]
        upper = [(n_hist - 1, history[-1])] + [(n_hist + k, v) for k, v in enumerate(hi)]
        lower = [(n_hist + k, v) for k, v in enumerate(lo)][::-1] + [(n_hist - 1, history[-1])]
        path = line(upper) + " L" + " L".join(f"{x(i):.1f},{y(v):.2f}" for i, v in lower) + " Z"
        parts.append(f'<path class="band band-{level}" d="{path}" fill="{COLORS.get(level, "#fde68a")}" '
                     f'fill-opacity="0.8" stroke="none"><title>{level}% interval</title></path>')
    parts.append(f'<line class="now" x1="{x(n_hist - 1):.1f}" x2="{x(n_hist - 1):.1f}" y1="{TOP}" '
                 f'y2="{TOP + plot_h}" stroke="#9ca3af" stroke-dasharray="4 4"/>')
    parts.append(f'<path class="history" d="{line(list(enumerate(history)))}" fill="none" '
                 f'stroke="{COLORS["history"]}" stroke-width="1.6"><title>history</title></path>')
    forecast_points = [(n_hist - 1, history[-1])] + [(n_hist + k, v) for k, v in enumerate(forecast)]
    parts.append(f'<path class="forecast" d="{line(forecast_points)}" fill="none" stroke="{COLORS["forecast"]}" '
                 f'stroke-width="2.2"><title>forecast</title></path>')
    # x axis: timestamps when known, else steps relative to the last observation
    labels = [*(history_times or []), *(future_times or [])] if history_times and future_times else None
    positions = sorted({round(k * (total - 1) / 6) for k in range(7)})
    for i in positions:
        text = _short(labels[i]) if labels else str(i - n_hist + 1)
        anchor = "start" if i == positions[0] else "end" if i == positions[-1] else "middle"  # inside the frame
        parts.append(f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 5}" '
                     f'stroke="#6b7280"/>')
        parts.append(f'<text class="tick" x="{x(i):.1f}" y="{TOP + plot_h + 20}" text-anchor="{anchor}" '
                     f'fill="#4b5563">{escape(text)}</text>')
    caption = "time" if labels else "steps from the last observation"
    parts.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 10}" text-anchor="middle" fill="#6b7280">'
                 f'{caption}</text>')
    legend = [("history", COLORS["history"]), ("forecast", COLORS["forecast"])] + \
        [(f"{level}% interval", COLORS.get(level, "#fde68a")) for level in sorted(bands)]
    lx = WIDTH - RIGHT - 110 * len(legend)
    for k, (name, color) in enumerate(legend):
        parts.append(f'<rect x="{lx + 110 * k}" y="14" width="14" height="10" fill="{color}"/>'
                     f'<text x="{lx + 110 * k + 20}" y="23" fill="#374151">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
