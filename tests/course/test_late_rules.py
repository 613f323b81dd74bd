"""Late rules (course/late_rules) are classes found through the entry point group
dl_course.late_rules: the course file's ``policy.late`` names one, the policy and the receipt
notice ask it, and a new rule is one class and one entry point line."""

from __future__ import annotations

import datetime as dt

import pytest
from plugin_dists import plugin_installer
from small_courses import BASE_COURSE, utc

from course.coursefile import CourseFileError, parse_course
from course.gradebook.records import add_receipt
from course.late_rules import GROUP, LATE_RULES, LateRule, late_rule
from course.policy import Facts, judge
from course.receipt_notice import receipt_notice
from course.workspace import open_workspace

SECOND, HOUR = dt.timedelta(seconds=1), dt.timedelta(hours=1)
POLICY = "policy: {excused_misses: 1}"  # line 13 of BASE_COURSE
GRACE_COURSE = BASE_COURSE.replace(POLICY, "policy: {excused_misses: 1, late: grace_hour}")

GRACE = '''
    from course.late_rules import LateRule

    class GraceHour(LateRule):
        """Up to an hour late counts, marked late; later is a miss."""

        name = "grace_hour"
        description = "up to an hour late counts, marked late; later is a miss"

        def counts_as_miss(self, late_by):
            return late_by.total_seconds() > 3600

        def notice(self, miss):
            return ("more than an hour late counts as missed" if miss
                    else "within the hour of grace this course allows")
'''


@pytest.fixture
def install_plugin(tmp_path, monkeypatch):
    yield from plugin_installer(tmp_path, monkeypatch)


def _grace(install_plugin):
    install_plugin("grace-rule", modules={"grace_rule": GRACE},
                   entry_points={GROUP: {"grace_hour": "grace_rule:GraceHour"}})
    return parse_course(GRACE_COURSE)


def test_the_built_in_rules_are_registered_as_entry_points_like_any_plug_in():
    assert list(LATE_RULES)[:2] == ["missed", "accepted"]
    for name, miss in (("missed", True), ("accepted", False)):
        rule = late_rule(name)
        assert isinstance(rule, LateRule) and rule.name == name and rule.description
        assert rule.counts_as_miss(SECOND) is miss and rule.counts_as_miss(30 * 24 * HOUR) is miss
    assert late_rule("missed").notice(True) == \
        "late work counts as missed under this course's policy"
    assert late_rule("accepted").notice(False) == \
        "late work is accepted under this course's policy"


def test_an_unknown_rule_is_an_error_at_its_line_naming_the_installed_ones(install_plugin):
    text = BASE_COURSE.replace(POLICY, "policy: {late: grace_hour}")
    with pytest.raises(CourseFileError) as caught:
        parse_course(text, "course.yml")
    assert (caught.value.line, caught.value.field) == (13, "policy.late")
    assert caught.value.message == ("should be 'missed', 'accepted' or 'window' (the late "
                                    "rules installed) (got 'grace_hour')")
    _grace(install_plugin)
    assert parse_course(text).policy.late == "grace_hour"
    with pytest.raises(CourseFileError,
                       match="should be 'missed', 'accepted', 'window' or 'grace_hour'"):
        parse_course(text.replace("grace_hour", "sometimes"))


def test_a_new_rule_is_one_class_and_one_entry_point(install_plugin):
    course = _grace(install_plugin)
    due = course.due("01-numpy")
    facts = Facts(releases={a.id: utc(2026, 10, 1) for a in course.assignments})
    # judged to the whole second, as by_deadline: an hour and 0.9 s late is an hour late
    facts.receipts[("ada", "01-numpy")] = [due + HOUR + dt.timedelta(milliseconds=900)]
    facts.receipts[("ben", "01-numpy")] = [due + HOUR + SECOND]
    results = {s.student_id: s.results["01-numpy"] for s in judge(course, facts, due + 9 * HOUR)}
    assert (results["ada"].state, results["ada"].counts_as_miss) == ("late", False)
    assert (results["ben"].state, results["ben"].counts_as_miss) == ("late", True)
    assert "late submissions count as missed" in results["ben"].note
    assert "late submissions count as missed" not in results["ada"].note


def test_the_receipt_notice_says_what_the_rule_decided(make_course, install_plugin):
    _grace(install_plugin)
    ws = open_workspace(make_course(GRACE_COURSE))
    due = ws.course.due("01-numpy")
    with ws.gradebook() as gb:
        notices = []
        for student, when in (("ada", due + dt.timedelta(minutes=20)),
                              ("ben", due + 2 * HOUR)):
            receipt = add_receipt(gb, student_id=student, assignment_id="01-numpy",
                                  received_at=when, sha256="d" * 64, size_bytes=1,
                                  storage_path=f"inbox/{student}", client_timestamp=None)
            gb.commit()
            notices.append(receipt_notice(ws, gb, receipt))
    assert "; within the hour of grace this course allows: this submission counts, marked " \
           "late" in notices[0]
    assert "; more than an hour late counts as missed, and no submission of yours is in " \
           "time" in notices[1]
