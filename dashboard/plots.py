"""The dashboard's plots: SVG drawn on the server by matplotlib, each with its data as a table.

Why matplotlib: the best-kept plotting library in Python, already what the course's notebooks
plot with; SVG drawn here needs no JavaScript, no CDN and nothing served but the page itself,
prints, and scales. Every plot is drawn in black and greys with dashes and hatching, so it reads
the same in greyscale; the SVG is hidden from screen readers, which get the table instead.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass

import matplotlib

matplotlib.use("svg")  # no display, no Agg: the service never rasterizes

from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["Plot", "pass_rate_plot", "score_plot", "submissions_plot"]

INK, MID, LIGHT = "#111111", "#666666", "#bbbbbb"
STYLE = {"svg.fonttype": "none", "svg.hashsalt": "dashboard", "font.size": 9,
         "axes.spines.top": False, "axes.spines.right": False}


@dataclass(frozen=True)
class Plot:
    title: str
    svg: str  # an <svg> element, to be placed in the page as is
    columns: tuple[str, ...]
    rows: list[tuple]


def _svg(fig: Figure) -> str:
    out = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = out.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and doctype: it goes inline
    return re.sub(r"<svg ", '<svg aria-hidden="true" focusable="false" ', text, count=1)


def _figure() -> tuple[Figure, object]:
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(5.2, 2.6))
        return fig, fig.add_subplot()


def submissions_plot(firsts: list[dt.datetime], due: dt.datetime, zone, *,
                     roster: int) -> Plot:
    """How many students had handed in over time (their first submission), and the deadline."""
    local = [moment.astimezone(zone) for moment in sorted(firsts)]
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure()
        if local:  # from an hour before the first to the deadline (or the last, if later)
            end = max(local[-1], due.astimezone(zone))
            steps = [local[0] - dt.timedelta(hours=1), *local, end]
            counts = [0, *range(1, len(local) + 1), len(local)]
            ax.step(steps, counts, where="post", color=INK, linewidth=1.6, label="handed in")
        ax.axvline(due.astimezone(zone), color=MID, linestyle="--", linewidth=1.2,
                   label="deadline")
        ax.axhline(roster, color=LIGHT, linestyle=":", linewidth=1, label="roster")
        ax.set_ylim(0, max(roster, 1) * 1.08)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("students")
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %d.%m.", tz=zone))
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=6, tz=zone))
        ax.legend(loc="upper left", frameon=False)
    rows = [(f"{moment:%a %Y-%m-%d %H:%M}", count) for count, moment in enumerate(local, 1)]
    return Plot("Students who have handed in, over time (dashed: the deadline)", _svg(fig),
                ("first submission (local time)", "students handed in"), rows)


def score_plot(scores: list[tuple[float, float]], threshold: float) -> Plot:
    """How many scored what share of the points, in tenths; the pass threshold dashed."""
    bins = [0] * 10
    for score, max_score in scores:
        bins[min(int(score / max_score * 10), 9)] += 1
    labels = [f"{10 * i}-{10 * i + 10}%" for i in range(10)]
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure()
        ax.bar(range(10), bins, width=0.85, color=LIGHT, edgecolor=INK, hatch="//")
        if threshold:
            ax.axvline(threshold * 10 - 0.5, color=INK, linestyle="--", linewidth=1.2,
                       label=f"pass threshold {threshold:.0%}")
            ax.legend(loc="upper left", frameon=False)
        ax.set_xticks([i - 0.5 for i in range(11)], [f"{10 * i}" for i in range(11)])
        ax.set_xlabel("score, % of the points")
        ax.set_ylabel("students")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return Plot("Score distribution", _svg(fig), ("score", "students"),
                list(zip(labels, bins, strict=True)))


def pass_rate_plot(rates: list[tuple[str, int, int]]) -> Plot:
    """Each hidden test's pass rate, the test failed most on top."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(5.2, 0.5 + 0.28 * max(len(rates), 1)))
        ax = fig.add_subplot()
        names = [name for name, _, _ in rates]
        shares = [passed / total * 100 for _, passed, total in rates]
        ax.barh(range(len(rates)), shares, color=MID, edgecolor=INK, height=0.7)
        for y, (share, (_, passed, total)) in enumerate(zip(shares, rates, strict=True)):
            inside = share > 80  # no room to the right: white on the bar
            ax.text(share - 1.5 if inside else share + 1.5, y, f"{passed}/{total}",
                    va="center", ha="right" if inside else "left",
                    color="#ffffff" if inside else INK)
        ax.set_yticks(range(len(rates)), names)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of graded submissions passing")
    rows = [(name, f"{passed}/{total}", f"{passed / total:.0%}") for name, passed, total in rates]
    return Plot("Pass rate of each hidden test (most failed first)", _svg(fig),
                ("test", "passed", "pass rate"), rows)
