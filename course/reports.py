"""Rendering standings and deadlines: JSON (a contract other tools read), CSV, HTML, terminal."""

from __future__ import annotations

import datetime as dt
import functools
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .calendar import get_zone, iso_local, iso_utc, readable_local
from .coursefile import Course
from .csv_cells import SafeDictWriter
from .policy import Standing

if TYPE_CHECKING:  # rich's tables: only for the terminal's views, not JSON or CSV
    from rich.table import Table

__all__ = [
    "deadlines_data",
    "deadlines_table",
    "late_days_text",
    "late_marks",
    "points_text",
    "status_csv",
    "status_data",
    "status_html",
    "status_json",
    "status_table",
    "status_tables_transposed",
    "write_report",
]

STATE_STYLE = {
    "on_time": "green", "extended": "cyan", "late": "yellow", "by_hand": "green", "missing": "red",
    "excused": "blue", "pending": "dim", "not_released": "dim italic",
}
STATUS_STYLE = {"ok": "green", "at_risk": "yellow", "exclude": "bold red"}


def deadlines_data(course: Course) -> list[dict]:
    """A row per assignment, in the course file's order; each break (``breaks:``, no session)
    is a row ``{"break", "first_day", "last_day", "label"}`` before the first assignment due on
    or after its first day (at the end when none is)."""
    zone = course.zone
    rows = []
    breaks = list(course.breaks)
    for assignment in course.assignments:
        due = course.due(assignment.id)
        while breaks and breaks[0].first_day <= due.astimezone(zone).date():
            rows.append(_break_row(breaks.pop(0)))
        rows.append({
            "assignment": assignment.id,
            "title": assignment.title,
            "release_local": iso_local(assignment.release, zone) if assignment.release else None,
            "due_local": iso_local(due, zone),
            "due_utc": iso_utc(due),
            "for_session": assignment.for_session,
        })
    rows += [_break_row(pause) for pause in breaks]
    return rows


def _break_row(pause) -> dict:
    return {"break": pause.name, "first_day": pause.first_day.isoformat(),
            "last_day": pause.last_day.isoformat(), "label": pause.label}


def deadlines_table(course: Course) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{course.title}: deadlines ({course.timezone})")
    for column in ("assignment", "title", "release", "due (local)", "due (UTC)"):
        table.add_column(column)
    for row in deadlines_data(course):
        if "break" in row:  # a week without a session: its days where the deadlines stand
            days = f"{_day(row['first_day'])} to {_day(row['last_day'])}"
            table.add_row("", f"[italic]{escape(row['label'])}[/]", "", f"[italic]{days}[/]", "")
            continue
        table.add_row(row["assignment"], row["title"], (row["release_local"] or "")[:16].replace("T", " "),
                      _weekday(row["due_local"]), row["due_utc"])
    return table


def _day(iso: str) -> str:
    return f"{dt.date.fromisoformat(iso):%a %Y-%m-%d}"


def _weekday(iso: str) -> str:
    moment = dt.datetime.fromisoformat(iso)
    return f"{moment:%a %Y-%m-%d %H:%M %z}"


def _fmt_score(score, max_score) -> str:
    if score is None:
        return ""
    return f"{score:g}" if max_score is None else f"{score:g}/{max_score:g}"  # None: overridden


def points_text(student: dict) -> str:
    """A student's points out of the most there were to get, as the policy sums them: "10/20"."""
    return f"{student['points']:g}/{student['max_points']:g}"


def status_data(course: Course, standings: list[Standing], as_of: dt.datetime, *,
                presented: Mapping[str, list[dict]] | None = None,
                warnings: list[str] | None = None,
                max_points: Mapping[str, float] | None = None) -> dict:
    """``presented``: per student, the presenter draws they were picked in (presenters.py);
    ``warnings``: what the instructor must act on (e.g. a deadline passed without a release);
    ``max_points``: the points each assignment is out of, where known (``Facts.max_points``)."""
    presented = presented or {}
    utc_text = functools.cache(iso_utc)  # the deadlines repeat for every student
    people = {person.id: person for person in course.roster.students}
    students = []
    for standing in standings:
        person = people[standing.student_id]
        students.append({
            "id": standing.student_id,
            "name": person.name,
            "status": standing.status,
            "status_text": standing.status_text,
            "misses": standing.misses,
            "excused": standing.excused,
            "points": standing.points,
            "max_points": standing.max_points,
            "late_days_used": standing.late_days_used,
            "late_days_left": standing.late_days_left,  # None: the course gives none
            "assignments": {
                result.assignment_id: {
                    "state": result.state,
                    "score": result.score,
                    "max_score": result.max_score,
                    "due_utc": utc_text(result.due),
                    "effective_due_utc": utc_text(result.effective_due),
                    "received_utc": utc_text(result.received) if result.received else None,
                    "counts_as_miss": result.counts_as_miss,
                    "note": result.note,
                    "grading_error": result.grading_error,
                    "override": result.override,
                    "points": result.points,
                    "max_points": result.max_points,
                    "earned_nothing": result.earned_nothing,
                    "penalty": result.penalty,
                    "penalty_percent": result.penalty_percent,
                    "score_before_penalty": result.score_before_penalty,
                    "late_days": result.late_days,
                }
                for result in standing.results.values()
            },
            "presented": [
                {"assignment": entry["assignment"], "drawn_utc": iso_utc(entry["drawn_at"]),
                 "absent": entry["absent"]}
                for entry in presented.get(standing.student_id, [])
                if entry["drawn_at"] <= as_of
            ],
        })
    return {
        "course": course.id,
        "as_of_utc": iso_utc(as_of),
        "timezone": course.timezone,  # the zone the standing is headed in (as_of_text)
        "policy": course.policy.model_dump(mode="json"),
        "withdrawal_deadline": course.withdrawal_deadline.isoformat(),
        "warnings": list(warnings or []),
        "max_points": {a.id: (max_points or {}).get(a.id) for a in course.assignments},
        "students": students,
    }


def status_json(data: dict) -> str:
    """Indented at the top and one line per student: as readable as indenting every level,
    and written by json's C encoder, which ``indent`` turns off (0.1 s for 500 students)."""
    fields = [f"  {json.dumps(key)}: {json.dumps(value)}"
              for key, value in data.items() if key != "students"]
    students = ",\n".join(f"    {json.dumps(student)}" for student in data.get("students", []))
    fields.append(f'  "students": [\n{students}\n  ]' if students else '  "students": []')
    return "{\n" + ",\n".join(fields) + "\n}"


STUDENT_COLUMNS = ["student", "name", "status", "misses", "excused", "total", "max_total"]
ENTRY_COLUMNS = ["state", "score", "max_score", "due_utc", "effective_due_utc", "received_utc",
                 "counts_as_miss", "note", "grading_error", "override", "points", "max_points",
                 "earned_nothing", "penalty", "penalty_percent", "score_before_penalty",
                 "late_days"]
CSV_COLUMNS = [*STUDENT_COLUMNS, "assignment", *ENTRY_COLUMNS, "late_days_left"]


def status_csv(data: dict) -> str:
    out = io.StringIO()
    writer = SafeDictWriter(out, CSV_COLUMNS)  # text a spreadsheet would run gets a '
    writer.writeheader()
    for student in data["students"]:
        for assignment_id, entry in student["assignments"].items():
            writer.writerow({
                "student": student["id"], "name": student["name"], "status": student["status"],
                "misses": student["misses"], "excused": student["excused"],
                "total": student["points"], "max_total": student["max_points"],
                "assignment": assignment_id,
                **{key: entry.get(key) for key in ENTRY_COLUMNS},
                "late_days_left": student.get("late_days_left"),
            })
    return out.getvalue()


def _cell(entry: dict) -> str:
    text = entry["state"].replace("_", " ")
    score = _fmt_score(entry["score"], entry["max_score"])
    score += "*" if entry.get("override") else ""  # set by hand: the note says by whom and why
    score += "?" if entry.get("earned_nothing") else ""  # handed in, 0 points: blank work?
    score += late_marks(entry)
    return f"{text} {score}".strip() + (" !" if entry["grading_error"] else "")


def late_marks(entry: dict) -> str:
    """What a standing cell adds for late work: the penalty (" -10%", late within the window;
    the note says why) and the late days spent on it (" (1d)")."""
    marks = f" -{entry['penalty_percent']:g}%" if entry.get("penalty_percent") else ""
    return marks + (f" ({entry['late_days']}d)" if entry.get("late_days") else "")


def _upcoming(students: list[dict], as_of_utc: str) -> list[str]:
    """Assignments nobody has handed in and whose deadline is ahead for everyone."""
    ids = list(students[0]["assignments"]) if students else []
    as_of = dt.datetime.fromisoformat(as_of_utc)
    return [a for a in ids
            if all(s["assignments"][a]["state"] in ("pending", "not_released")
                   and dt.datetime.fromisoformat(s["assignments"][a]["effective_due_utc"]) > as_of
                   for s in students)]


def _presented(student: dict) -> str:
    return ", ".join(entry["assignment"] + (" (absent)" if entry["absent"] else "")
                     for entry in student.get("presented", []))


def as_of_text(data: dict) -> str:
    """When the standing was judged, as the course reads it: 'Fri 2026-11-20 12:00 +0100
    (Europe/Berlin)', like every other time a command shows; UTC stays in the JSON."""
    as_of = dt.datetime.fromisoformat(data["as_of_utc"])
    return readable_local(as_of, get_zone(data.get("timezone") or "UTC"))


def _notes(data: dict, shown: Sequence[str], upcoming: Sequence[str] = ()) -> list[str]:
    """The lines under a standing table: warnings and grading problems (all of them), then the
    overrides (``*``) and the work that earned nothing (``?``) among the ``shown``
    assignments, then the ``upcoming`` ones left out of the table."""
    students = data["students"]
    problems = [
        f"{student['id']}, {assignment_id}: {entry['note']}"
        for student in students
        for assignment_id, entry in student["assignments"].items()
        if entry["grading_error"]
    ]
    notes = ["! " + line for line in data.get("warnings", []) + problems]
    notes += [f"* {student['id']}, {assignment_id}: score {entry['override']}"
              for student in students
              for assignment_id, entry in student["assignments"].items()
              if entry.get("override") and assignment_id in shown]
    notes += [f"? {student['id']}, {assignment_id}: earned 0 points, yet counts as handed in "
              "(pass_threshold is 0)"
              for student in students
              for assignment_id, entry in student["assignments"].items()
              if entry.get("earned_nothing") and assignment_id in shown]
    notes += [f"- {student['id']}, {assignment_id}: {entry['penalty']}"
              + (f" (graded {entry['score_before_penalty']:g}, counts {entry['score']:g})"
                 if entry.get("score_before_penalty") is not None else "")
              for student in students
              for assignment_id, entry in student["assignments"].items()
              if entry.get("penalty_percent") and assignment_id in shown]
    if upcoming:
        notes.append(f"upcoming: {', '.join(upcoming)}")
    return notes


def late_days_text(student: dict) -> str:
    """A student's late days: "1 of 3 left" ("" when the course gives none)."""
    left = student.get("late_days_left")
    if left is None:
        return ""
    return f"{left} of {left + student.get('late_days_used', 0)} left"


def _late_days(data: dict) -> bool:
    late_days = (data.get("policy") or {}).get("late_days")  # N, or {budget: N, spend: ...}
    return bool(late_days.get("budget") if isinstance(late_days, dict) else late_days)


def _title(data: dict) -> str:
    return f"{data['course']}: standing as of {as_of_text(data)}"


def _styled_cell(entry: dict) -> str:
    return f"[{STATE_STYLE[entry['state']]}]{_cell(entry)}[/]"


def _styled_status(student: dict) -> str:
    status = student["status_text"] or student["status"]
    return f"[{STATUS_STYLE[student['status']]}]{status}[/]"


def status_table(data: dict, *, assignments: Sequence[str] | None = None) -> Table:
    """A row per student, a column per assignment. ``assignments``: only those columns, in
    that order (ids the caller checked); by default every assignment but the upcoming ones
    (nobody handed them in and every deadline is ahead), which the caption names."""
    from rich.table import Table

    students = data["students"]
    every = list(students[0]["assignments"]) if students else []
    if assignments is None:
        upcoming = _upcoming(students, data["as_of_utc"])
        assignment_ids = [a for a in every if a not in upcoming]  # a terminal is narrow
    else:
        upcoming, assignment_ids = [], [a for a in dict.fromkeys(assignments) if a in every]
    notes = _notes(data, assignment_ids, upcoming)
    table = Table(title=_title(data), caption="\n".join(notes) or None, caption_justify="left")
    table.add_column("student")
    for assignment_id in assignment_ids:
        table.add_column(assignment_id)
    table.add_column("presented")
    table.add_column("points", justify="right")
    table.add_column("misses", justify="right")
    late_days = _late_days(data)
    if late_days:
        table.add_column("late days")
    table.add_column("status")
    for student in students:
        cells = [_styled_cell(student["assignments"][a]) for a in assignment_ids]
        table.add_row(student["id"], *cells, _presented(student),
                      points_text(student), str(student["misses"]),
                      *([late_days_text(student)] if late_days else []),
                      _styled_status(student))
    return table


TRANSPOSED_TOTALS = ("presented", "points", "misses", "status")


def status_tables_transposed(data: dict, *, width: int,
                             assignments: Sequence[str] | None = None) -> list[Table]:
    """The standing turned: a row per assignment (every one, or only ``assignments``) and the
    totals, a column per student. Students are split over as many tables as it takes for each
    to fit in ``width`` characters, so a table printed to a pipe loses no assignment and no
    student however long the term or the roster."""
    from rich.table import Table
    from rich.text import Text

    students = data["students"]
    every = list(students[0]["assignments"]) if students else []
    assignment_ids = every if assignments is None else [
        a for a in dict.fromkeys(assignments) if a in every]
    late_days = _late_days(data)
    totals = [*TRANSPOSED_TOTALS[:3], *(["late days"] if late_days else []),
              TRANSPOSED_TOTALS[3]]
    labels = [*assignment_ids, *totals]
    columns = []  # (student id, its cells top to bottom, its width)
    for student in students:
        cells = [*(_styled_cell(student["assignments"][a]) for a in assignment_ids),
                 _presented(student), points_text(student), str(student["misses"]),
                 *([late_days_text(student)] if late_days else []),
                 _styled_status(student)]
        widest = max(Text.from_markup(cell).cell_len for cell in [student["id"], *cells])
        columns.append((student["id"], cells, widest))
    first = max(len(label) for label in ["assignment", *labels])
    blocks: list[list] = [[]]
    used = first + 4  # a column takes its width, one space each side and a border
    for column in columns:
        if blocks[-1] and used + column[2] + 3 > width:
            blocks.append([])
            used = first + 4
        blocks[-1].append(column)
        used += column[2] + 3
    notes = _notes(data, assignment_ids)
    tables = []
    for number, block in enumerate(blocks):
        last = number == len(blocks) - 1
        table = Table(title=_title(data) if number == 0 else None,
                      caption="\n".join(notes) if last and notes else None,
                      caption_justify="left")
        table.add_column("assignment", no_wrap=True)
        for student_id, _cells, _width in block:
            table.add_column(student_id, no_wrap=True)
        for row, label in enumerate(labels):
            if label == TRANSPOSED_TOTALS[0]:
                table.add_section()
            table.add_row(label, *(cells[row] for _id, cells, _width in block))
        tables.append(table)
    return tables


HTML_STATE_COLOR = {
    "on_time": "#d4edda", "extended": "#d1ecf1", "late": "#fff3cd", "by_hand": "#d4edda",
    "missing": "#f8d7da",
    "excused": "#dbe4ff", "pending": "#eeeeee",
    "not_released": "#f4f4f4",
}


def status_html(data: dict) -> str:
    esc = html.escape
    students = data["students"]
    assignment_ids = list(students[0]["assignments"]) if students else []
    head = "".join(f"<th>{esc(a)}</th>" for a in assignment_ids)
    rows, problems = [], [f"<li>{esc(warning)}</li>" for warning in data.get("warnings", [])]
    for student in students:
        cells = []
        for assignment_id in assignment_ids:
            entry = student["assignments"][assignment_id]
            title = esc(entry["note"], quote=True)
            color = HTML_STATE_COLOR[entry["state"]]
            cells.append(f'<td style="background:{color}" title="{title}">{esc(_cell(entry))}</td>')
            if entry["grading_error"]:
                problems.append(f"<li><b>{esc(student['id'])}</b>, {esc(assignment_id)}: "
                                f"{esc(entry['note'])}</li>")
        status = esc(student["status_text"] or student["status"])
        presented = esc(_presented(student))
        late_days = f"<td>{esc(late_days_text(student))}</td>" if _late_days(data) else ""
        rows.append(f"<tr><th scope=\"row\">{esc(student['id'])}</th>"
                    f"<td>{esc(student['name'])}</td>"
                    f"{''.join(cells)}<td>{presented}</td><td>{points_text(student)}</td>"
                    f"<td>{student['misses']}</td>{late_days}"
                    f"<td class=\"{student['status']}\">{status}</td></tr>")
    problem_list = f"<h2>Grading problems</h2><ul>{''.join(problems)}</ul>" if problems else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(data['course'])} standing</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;margin:1em;font-size:14px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 5px;white-space:nowrap;text-align:left}}
.wide{{overflow:auto;max-width:100%;max-height:80vh}}thead th{{position:sticky;top:0;background:#eee}}
tbody th{{position:sticky;left:0;background:#fff}}.exclude{{color:#a00;font-weight:bold}}
.at_risk{{color:#a60}}</style></head><body>
<h1>{esc(data['course'])}: standing as of {esc(as_of_text(data))}</h1>
<p>Withdrawal deadline: {esc(data['withdrawal_deadline'])}. Misses allowed:
{data['policy']['excused_misses']}.</p>
<div class="wide"><table><thead><tr><th>student</th><th>name</th>{head}<th>presented</th>
<th>points</th><th>misses</th>{'<th>late days</th>' if _late_days(data) else ''}<th>status</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table></div>
{problem_list}
</body></html>
"""


def write_report(data: dict, out_dir: Path) -> tuple[Path, Path]:
    """status.html and status.csv in ``out_dir``, each written whole or not at all."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in (("status.html", status_html(data)), ("status.csv", status_csv(data))):
        path = out_dir / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        paths.append(path)
    return paths[0], paths[1]
