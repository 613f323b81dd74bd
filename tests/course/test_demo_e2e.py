"""`course demo` end to end in a subprocess: every scripted student lands in the right state."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

COURSE = [sys.executable, "-m", "commands.main"]
# a Monday, the day after Berlin's clocks fell back: the demo's layout is judged at this moment
NOW = "2029-10-29 09:30"


@pytest.mark.e2e
@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    demo = tmp_path / "demo"
    done = subprocess.run([*COURSE, "demo", "--dir", str(demo), "--now", NOW],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "must be excluded by" in done.stdout
    # the damaged notebook is refused at submit, naming the file
    assert "finn's upload of 01-numpy was refused at submit" in done.stdout
    assert "is not valid JSON" in done.stdout
    html_report = demo / "reports" / "status.html"
    assert html_report.is_file() and (demo / "reports" / "status.csv").is_file()
    assert str(html_report) in done.stdout.replace("\n", "")

    status = subprocess.run([*COURSE, "status", "--format", "json", "--course", str(demo),
                             "--as-of", NOW],
                            capture_output=True, text=True, timeout=120, check=False)
    assert status.returncode == 0, status.stderr
    students = {s["id"]: s for s in json.loads(status.stdout)["students"]}

    def states(student):  # the two assignments the scripted students worked on
        return [students[student]["assignments"][a]["state"] for a in ("01-numpy", "02-linreg")]

    later = [a for a in students["ada"]["assignments"] if a not in ("01-numpy", "02-linreg")]
    # the next assignment is released and open; the rest are not released yet (nobody's miss)
    assert all(students[s]["assignments"][later[0]]["state"] == "pending" for s in students)
    assert all(students[s]["assignments"][a]["state"] == "not_released"
               for s in students for a in later[1:])

    assert states("ada") == ["on_time", "on_time"] and students["ada"]["status"] == "ok"
    graded = ("01-numpy", "02-linreg")
    ada_scores = [(students["ada"]["assignments"][a]["score"],
                   students["ada"]["assignments"][a]["max_score"]) for a in graded]
    assert all(score == max_score > 0 for score, max_score in ada_scores)
    ben = [students["ben"]["assignments"][a] for a in graded]
    assert all(0 < a["score"] < a["max_score"] for a in ben)
    assert states("cleo") == ["on_time", "late"] and students["cleo"]["status"] == "at_risk"
    assert states("dan") == ["missing", "missing"] and students["dan"]["status"] == "exclude"
    assert states("eve") == ["on_time", "extended"] and students["eve"]["status"] == "ok"
    assert states("finn") == ["on_time", "on_time"]  # he fixed it within the hour
    assert all(students["finn"]["assignments"][a]["score"] > 0 for a in graded)
    assert states("gus") == ["excused", "on_time"] and students["gus"]["excused"] == 1
    assert states("hana") == ["missing", "on_time"] and students["hana"]["status"] == "at_risk"

    # course life: a draw history in the status, summaries and the wiki export
    presented = [p for s in students.values() for p in s["presented"]]
    assert {p["assignment"] for p in presented} == {"01-numpy", "02-linreg"}
    assert sum(p["absent"] for p in presented) == 1
    wiki = demo / "wiki"
    for index in (wiki / "html" / "index.html", wiki / "markdown" / "Home.md",
                  wiki / "mediawiki" / "demo-dl.wiki"):
        assert index.is_file() and str(index) in done.stdout.replace("\n", "")
    session = (wiki / "html" / "session-01.html").read_text()
    assert '<img src="media/session-01/board.png"' in session
    assert (wiki / "html" / "media" / "session-01" / "board.png").is_file()
    assert "Session-02" in (wiki / "markdown" / "Home.md").read_text()

    # the students received only the student version: no solutions, hidden tests or mutants
    released = demo / "exchange" / "demo-dl" / "outbound"
    for notebook in released.rglob("*.ipynb"):
        text = notebook.read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    assert not list(released.rglob("mutants")) and not list(released.rglob("graders"))


def test_demo_refuses_a_non_empty_folder(tmp_path, capsys):
    from commands.main import main

    (tmp_path / "keep.txt").write_text("mine")
    assert main(["demo", "--dir", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert Path(tmp_path / "keep.txt").read_text() == "mine"
