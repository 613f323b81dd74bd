"""The dashboard's pieces without a hub: plots (greyscale, with their tables), the student's words
for the excused-miss budget, countdowns, and the HTML report on a laptop screen."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import pytest
from small_courses import REPO, utc

from course.coursefile import parse_course
from course.policy import Facts, judge
from course.reports import status_data, status_html
from dashboard import plots
from dashboard.data import budget_text
from dashboard.pages import countdown, standing_rows

sys.path.insert(0, str(REPO / "benchmarks"))
from status_bench import course_yml

CHROMIUM = "/usr/bin/chromium"
ZONE = dt.timezone(dt.timedelta(hours=1))


def _colours(svg: str) -> set[str]:
    return set(re.findall(r"#[0-9a-fA-F]{6}\b", svg))


def test_plots_are_grey_and_carry_their_data():
    due = utc(2026, 10, 25, 17)
    firsts = [due - dt.timedelta(hours=h) for h in (50, 20, 3)]
    made = [plots.submissions_plot(firsts, due, ZONE, roster=4),
            plots.score_plot([(7.5, 10), (10, 10), (2, 10)], 0.3),
            plots.pass_rate_plot([("test_b", 1, 3), ("test_a", 3, 3)])]
    for plot in made:
        assert plot.svg.startswith('<svg aria-hidden="true"')  # the table speaks instead
        colours = _colours(plot.svg)
        assert colours, plot.title
        grey = {c for c in colours if c[1:3].lower() == c[3:5].lower() == c[5:7].lower()}
        assert colours == grey, (plot.title, colours - grey)  # reads the same printed grey
    assert [count for _, count in made[0].rows] == [1, 2, 3]
    assert made[0].rows[0][0] == "Fri 2026-10-23 16:00"  # local time (UTC+1)
    assert dict(made[1].rows) == {**{f"{10 * i}-{10 * i + 10}%": 0 for i in range(10)},
                                  "20-30%": 1, "70-80%": 1, "90-100%": 1}
    assert made[2].rows == [("test_b", "1/3", "33%"), ("test_a", "3/3", "100%")]


@pytest.mark.parametrize(("misses", "allowance", "status_text", "expected"), [
    (0, 1, "", "You have used 0 of your 1 excused miss. 1 more miss is allowed."),
    (1, 1, "one more miss means exclusion",
     "You have used 1 of your 1 excused miss. One more miss means exclusion from the course."),
    (1, 2, "", "You have used 1 of your 2 excused misses. 1 more miss is allowed."),
    (2, 1, "must be excluded by 2026-12-01",
     "You have missed 2 assignments; 1 is allowed. Must be excluded by 2026-12-01."),
])
def test_the_budget_in_plain_words(misses, allowance, status_text, expected):
    assert budget_text(misses, allowance, status_text) == expected
    assert budget_text(misses, allowance, status_text, who="Ben B").startswith("Ben B has ")


def test_countdown_both_ways():
    now = utc(2026, 11, 1, 12)
    assert countdown(now + dt.timedelta(days=3, hours=4, minutes=5), now) == "in 3 days 4 h"
    assert countdown(now + dt.timedelta(hours=1, minutes=30), now) == "in 1 h 30 min"
    assert countdown(now - dt.timedelta(minutes=7), now) == "7 min ago"
    assert countdown(now - dt.timedelta(days=1), now) == "1 day 0 h ago"


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_the_html_report_has_presented_and_fits_a_laptop(tmp_path):
    from playwright.sync_api import sync_playwright

    course = parse_course(course_yml(40, 12), "bench course")
    as_of = utc(2026, 12, 20, 12)
    presented = {"s001": [{"assignment": "a02", "drawn_at": utc(2026, 10, 26), "absent": True},
                          {"assignment": "a03", "drawn_at": utc(2026, 11, 2), "absent": False}]}
    data = status_data(course, judge(course, Facts(), as_of), as_of, presented=presented)
    page_html = status_html(data)
    assert "<th>presented</th>" in page_html and "a02 (absent), a03" in page_html
    report = tmp_path / "status.html"
    report.write_text(page_html)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(report.as_uri())
            assert page.evaluate("document.documentElement.scrollWidth") <= 1366
            assert page.locator("thead th", has_text="presented").is_visible()
        finally:
            browser.close()


def test_notes_are_escaped_in_the_standing_table():
    course = parse_course(course_yml(2, 1), "c.yml")
    as_of = utc(2026, 12, 20, 12)
    data = status_data(course, judge(course, Facts(), as_of), as_of)
    data["students"][0]["assignments"]["a01"]["note"] = '"><img src=x onerror=alert(1)>'
    rows = str(standing_rows(data, ["a01"], "/services/dashboard/"))
    assert "<img" not in rows and "&quot;&gt;&lt;img" in rows
    assert rows.count("<tr>") == 2
