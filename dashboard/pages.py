"""HTML of the dashboard's pages: Jinja2 templates (autoescaped) over ``dashboard.data``."""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from course.calendar import iso_utc, readable_local
from course.reports import late_marks, points_text

from . import plots

__all__ = ["countdown", "render"]

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATE_LABEL = {"on_time": "on time", "extended": "extended", "late": "late",
               "by_hand": "by hand", "missing": "missing", "excused": "excused",
               "pending": "pending", "not_released": "not released"}


def countdown(target: dt.datetime, now: dt.datetime) -> str:
    """'in 3 days 4 h', '5 h 10 min ago': what the page shows before its script updates it."""
    seconds = int((target - now).total_seconds())
    ahead, seconds = seconds >= 0, abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days} day{'s' if days != 1 else ''} {hours} h"
    elif hours:
        text = f"{hours} h {minutes} min"
    else:
        text = f"{minutes} min"
    return f"in {text}" if ahead else f"{text} ago"


def standing_rows(standing: dict, assignments: list[str], base: str) -> Markup:
    """The overview table's body: 500 x 12 cells are joined here, several times faster than
    the same loop in the template."""
    esc = html.escape
    rows = []
    for s in standing["students"]:
        sid = esc(s["id"])
        cells = []
        for aid in assignments:
            e = s["assignments"][aid]
            text = f"{STATE_LABEL[e['state']]} {_score(e)}"
            text += ("*" if e["override"] else "") + ("?" if e["earned_nothing"] else "")
            text += late_marks(e)  # the title (the note) says why
            text += " !" if e["grading_error"] else ""
            cells.append(f'<td class="st {e["state"]}" title="{esc(e["note"])}">{esc(text)}</td>')
        presented = ", ".join(p["assignment"] + (" (absent)" if p["absent"] else "")
                              for p in s["presented"])
        rows.append(f'<tr><th scope="row"><a href="{esc(base)}students/{sid}">{sid}</a></th>'
                    f'{"".join(cells)}<td>{esc(presented)}</td>'
                    f'<td class="num">{esc(points_text(s))}</td><td class="num">{s["misses"]}'
                    f'</td><td class="status {s["status"]}">'
                    f'{esc(s["status_text"] or s["status"])}</td></tr>')
    return Markup("\n".join(rows))


def _score(e: dict) -> str:
    if e["score"] is None:
        return ""
    return f"{e['score']:g}" + (f"/{e['max_score']:g}" if e["max_score"] else "")


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["utc"] = iso_utc
    env.filters["state"] = lambda state: STATE_LABEL.get(state, state)
    env.filters["score"] = _score
    env.filters["late_marks"] = late_marks
    env.filters["points"] = points_text
    env.globals["standing_rows"] = standing_rows
    env.filters["kb"] = lambda size: f"{size / 1024:.1f} KiB"
    return env


ENV = _environment()


def render(template: str, *, now: dt.datetime, zone, **context) -> str:
    """A page; every template gets ``now``, ``local`` (an instant as read in the course) and
    ``countdown`` (to or since an instant, from ``now``)."""
    def local(moment: dt.datetime | str | None) -> str:
        if isinstance(moment, str):  # the standing document's "...Z" instants
            moment = dt.datetime.fromisoformat(moment)
        return readable_local(moment, zone) if moment else ""

    return ENV.get_template(template).render(
        now=now, zone=zone, local=local,
        countdown=lambda target: countdown(target, now), **context)


def assignment_plots(page: dict, zone) -> list[plots.Plot]:
    """The plots that have something to show: none before the first hand-in (the page says
    "nothing handed in yet"), no score distribution before the first score."""
    out = []
    if page["first_submissions"]:
        out.append(plots.submissions_plot(page["first_submissions"], page["due"], zone,
                                          roster=len(page["entries"])))
    if page["scores"]:
        out.append(plots.score_plot(page["scores"], page["pass_threshold"]))
    if page["pass_rates"]:
        out.append(plots.pass_rate_plot(page["pass_rates"]))
    return out
