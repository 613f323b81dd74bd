"""The adversarial corpus through ``course grade-file``'s path (autograder.single.grade_file).

For every attack: (a) the score is what the genuine code earns; (b) the hidden graders, the
gradebook file and another student's submission are byte-identical afterwards; (c) nothing of
the run is left (no process of the sandbox's uid, no course-grading-* cgroup, no job folder);
(d) the run ends within its limits, and the grader's own process stays small.
"""

from __future__ import annotations

import os
import secrets
import time

import nbformat
import pytest
from attack_corpus import ATTACKS, CONTROL, covered_threats
from attack_harness import TRUSTED_PEAK_MB, Listener, Watch, make_course

from autograder.sandbox import choose_isolation
from autograder.single import NotebookError, grade_file

THREAT_CLASSES = [*range(1, 20), 26]  # THREATS.md: 20-25 (the exchange, the fleet) elsewhere

pytestmark = pytest.mark.skipif(
    not (os.geteuid() == 0 and choose_isolation() == "bwrap"),
    reason="the corpus checks the whole sandbox: bubblewrap run as root (see course doctor)")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("attacks") / "course")


@pytest.fixture(scope="module")
def listener():
    port = Listener()
    yield port
    port.close()


def _params():
    for attack in ATTACKS:
        marks = [pytest.mark.slow] if attack.slow else []
        yield pytest.param(attack, id=attack.name, marks=marks)


@pytest.mark.parametrize("attack", list(_params()))
def test_attack(attack, course, listener, tmp_path, monkeypatch):
    canary = "COURSE_SECRET_CANARY"
    monkeypatch.setenv(canary, secrets.token_hex(16))  # in the grading process's environment
    marker = tmp_path / "unpickled-on-the-host"
    values = {"@COURSE@": str(course.root), "@CANARY@": canary, "@PORT@": str(listener.port),
              "@MARKER@": str(marker)}

    def fill(source: str) -> str:
        for key, value in values.items():
            source = source.replace(key, value)
        return source

    path = tmp_path / "submission" / "numpy-basics.ipynb"
    path.parent.mkdir()
    if attack.raw:
        attack.raw(path)
    else:
        nbformat.write(attack.notebook(fill), path)
    before = course.digest()
    connections = len(listener.connections)

    with Watch() as watch:
        started = time.monotonic()
        if attack.expected is None:
            with pytest.raises(NotebookError):
                grade_file(course.source, path, attack.options)
            result = None
        else:
            result = grade_file(course.source, path, attack.options)
        seconds = time.monotonic() - started

    report = f"{attack.name}: {result}"
    if result is not None:  # (a) what the genuine code earns, of the instructor's 10
        assert result["score"] == attack.expected, report
        assert result["max_score"] == 10.0, report
        assert not any("took longer" in p for p in result["problems"]), report
        assert result["isolation"] == "bwrap", report
    assert course.digest() == before, report  # (b)
    assert watch.leftovers() == [], report  # (c)
    assert seconds < attack.max_seconds, report  # (d)
    assert watch.trusted_peak_mb < TRUSTED_PEAK_MB, (watch.trusted_peak_mb, report)
    assert len(listener.connections) == connections, report
    assert not marker.exists(), report


def test_every_threat_class_has_an_attack():
    covered = covered_threats()
    missing = [n for n in THREAT_CLASSES if not covered.get(n)]
    assert missing == [], f"threat classes without an attack: {missing}"
    assert len(ATTACKS) - 1 >= 30  # the control is not an attack
    assert len({a.name for a in ATTACKS}) == len(ATTACKS)

    assert CONTROL.expected == 10.0  # an oracle that wins earns everything: 0 means it lost
