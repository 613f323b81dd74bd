"""The assignment page before anyone handed in (issue 23, item 13): a sentence, not empty plots;
the draw form's count field shows the course's count, not a placeholder cut to "course"."""

from __future__ import annotations

from small_courses import BASE_COURSE, utc

from course.workspace import open_workspace
from dashboard import data, pages


def _page(ws, now):
    context = data.assignment_page(ws, "01-numpy", now)
    context["plots"] = pages.assignment_plots(context, ws.course.zone)
    return context, pages.render("assignment.html", now=now, zone=ws.course.zone,
                                 course=ws.course, base="/dash/", static=lambda name: name,
                                 user="ina", role="instructor", staff=True, instructor=True,
                                 messages=[], xsrf="x", **context)


def test_nothing_handed_in_yet_says_so_instead_of_empty_plots(make_course):
    ws = open_workspace(make_course(BASE_COURSE + "presenters: {count: 3}\n"))
    context, html = _page(ws, utc(2026, 10, 21, 12))
    assert context["plots"] == [] and "<svg" not in html
    assert "Nothing handed in yet" in html
    assert 'name="count" min="1" max="50" value="3"' in html and "placeholder" not in html
