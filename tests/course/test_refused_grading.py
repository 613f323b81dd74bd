"""A grading the engine refuses (no isolation here) or that fails never writes a score and never
hides the last good one; whoever started it (``course grade``, the formgrader's Autograde) reads
the engine's reason (issue 28, item 1). In a container the reason points to the grading fleet,
never to turning the sandbox off, and ``course init`` writes the backend a stack needs (item 4)."""

import csv
import datetime as dt
import io
import json

import nbformat
import pytest

from autograder import sandbox
from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook
from course.collect import collect
from course.inbox import receive
from course.workspace import open_workspace

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def ws(make_course):
    return open_workspace(make_course(assignments=("01-numpy",)))


def hand_in_perfect(ws):
    (source,) = (ws.source / "01-numpy").glob("*.ipynb")
    nb = nbformat.read(source, as_version=4)
    perfect = nbformat.writes(answer_notebook(nb, solution_cells(nb))).encode()
    with ws.gradebook() as gb:
        receive(ws, gb, "ada", "01-numpy", {source.name: perfect},
                received_at=ws.course.due("01-numpy") - HOUR)
    collect(ws, "01-numpy")


def no_isolation_here(monkeypatch):
    """As in a hub container without the sandbox's privileges: nothing of 'auto' runs."""
    monkeypatch.setitem(sandbox._chosen, "auto", "none")
    monkeypatch.setitem(sandbox._failures, "bwrap", "No permissions to create new namespace")
    monkeypatch.setitem(sandbox._failures, "unshare", "unshare failed: Operation not permitted")


def nbgrader_scores(ws) -> tuple[float, list[float | None]] | None:
    """nbgrader's score of ada's submission and each cell's automatic score (None: no
    submission in nbgrader's gradebook): what the formgrader shows."""
    from nbgrader.api import MissingEntry

    with ws.gradebook() as gb:
        try:
            submission = gb.nb.find_submission("01-numpy", "ada")
        except MissingEntry:
            return None
        return submission.score, [grade.auto_score for notebook in submission.notebooks
                                  for grade in notebook.grades]


def run(main, capsys, *args) -> str:
    capsys.readouterr()
    assert main(list(args)) == 0
    return capsys.readouterr().out


def standing(ws, main, capsys) -> tuple[dict, dict, str]:
    """ada's 01-numpy in `course status --format json`, her row of `course export --format csv`
    and the status table, an hour after the deadline."""
    course = ["--course", str(ws.course_file)]
    as_of = ["--as-of", (ws.course.due("01-numpy") + HOUR).strftime("%Y-%m-%d %H:%M")]
    data = json.loads(run(main, capsys, "status", "--format", "json", *course, *as_of))
    (ada,) = [s for s in data["students"] if s["id"] == "ada"]
    rows = csv.DictReader(io.StringIO(run(main, capsys, "export", "--format", "csv", *course,
                                          *as_of)))
    (exported,) = [row for row in rows if row["student"] == "ada"]
    table = run(main, capsys, "status", *course, *as_of)
    return ada["assignments"]["01-numpy"], exported, table


REASON = "grading refused: isolation 'auto' does not run"


@pytest.mark.slow
def test_a_refused_first_grading_writes_no_score(ws, monkeypatch, capsys):
    """The formgrader's Autograde on a machine without isolation: nbgrader's gradebook gets no
    zeros, the status shows the error (`!`), not 0, the export leaves the cell empty, and the
    formgrader says why."""
    from commands.main import main
    from hub_config.formgrader.autograde import autograde_answer

    hand_in_perfect(ws)
    with monkeypatch.context() as m:
        no_isolation_here(m)
        answer = autograde_answer(str(ws.course_file), "01-numpy", "ada")
    assert answer["success"] is False
    assert REASON in answer["error"] and "No permissions to create new namespace" in answer["error"]
    assert nbgrader_scores(ws) is None  # no submission with zeros for the formgrader to show
    assert not (ws.root / "autograded" / "ada" / "01-numpy").exists()
    entry, exported, table = standing(ws, main, capsys)
    assert entry["score"] is None and entry["points"] is None
    assert REASON in entry["grading_error"]
    assert exported["01-numpy"] == ""  # not a 0
    assert "on time !" in table


@pytest.mark.slow
def test_a_refused_regrade_keeps_the_last_good_score(ws, monkeypatch, capsys):
    """After a 10/10, a re-grade the engine refuses leaves nbgrader's 10 and the autograded
    notebook as they were; the status shows 10 with the error beside it, the export 10."""
    from commands.main import main
    from hub_config.formgrader.autograde import autograde_answer

    hand_in_perfect(ws)
    good = autograde_answer(str(ws.course_file), "01-numpy", "ada")
    assert good["success"] is True and "10 of 10 points" in good["log"]
    before = nbgrader_scores(ws)
    assert before[0] == 10
    (graded,) = (ws.root / "autograded" / "ada" / "01-numpy").glob("*.ipynb")
    graded_bytes = graded.read_bytes()
    for attempt in range(2):  # refused twice: still one last good score, never hidden
        with monkeypatch.context() as m:
            no_isolation_here(m)
            answer = autograde_answer(str(ws.course_file), "01-numpy", "ada")
        assert answer["success"] is False and REASON in answer["error"]
        assert nbgrader_scores(ws) == before
        assert graded.read_bytes() == graded_bytes
        entry, exported, table = standing(ws, main, capsys)
        assert (entry["score"], entry["max_score"]) == (10, 10)
        assert REASON in entry["grading_error"]
        assert float(exported["01-numpy"]) == 10
        assert "on time 10/10 !" in next(line for line in table.splitlines()
                                         if line.startswith("│ ada"))
    # graded again where isolation runs: the error is gone
    assert autograde_answer(str(ws.course_file), "01-numpy", "ada")["success"] is True
    entry, exported, _ = standing(ws, main, capsys)
    assert entry["score"] == 10 and entry["grading_error"] is None


def test_a_container_is_told_by_its_marks(tmp_path):
    from autograder.sandbox import in_container

    assert not in_container(tmp_path)
    (tmp_path / "proc" / "1").mkdir(parents=True)
    (tmp_path / "proc/1/cgroup").write_text("0::/\n")  # a host, or cgroup v2 namespaced
    assert not in_container(tmp_path)
    (tmp_path / "proc/1/cgroup").write_text("12:pids:/kubepods/besteffort/pod1/abc\n")
    assert in_container(tmp_path)
    for marker in (".dockerenv", "run/.containerenv"):
        other = tmp_path / marker.replace("/", "-")
        (other / marker).parent.mkdir(parents=True, exist_ok=True)
        (other / marker).touch()
        assert in_container(other)


def test_in_a_container_the_refusal_points_to_the_fleet_never_to_no_isolation(monkeypatch):
    no_isolation_here(monkeypatch)
    with pytest.raises(sandbox.IsolationUnavailable) as refused:
        sandbox.require_isolation("auto", container=True)
    reason = str(refused.value)
    assert "does not run in this container" in reason and "bwrap: No permissions" in reason
    assert "`grading: {backend: celery}`" in reason and "`course worker`" in reason
    assert "isolation: none" not in reason
    with pytest.raises(sandbox.IsolationUnavailable) as refused:  # a host of one's own
        sandbox.require_isolation("auto", container=False)
    assert "`grading: {isolation: none}`" in str(refused.value)


@pytest.mark.slow
def test_course_grade_in_the_hub_container_says_to_grade_on_the_fleet(ws, monkeypatch, capsys):
    """`course grade` with the local backend where nothing of the sandbox runs, in a container
    (the hub's, which holds the Docker socket): the reason says `grading: {backend: celery}`
    and `course worker`, not `isolation: none`."""
    from commands.main import main

    hand_in_perfect(ws)
    no_isolation_here(monkeypatch)
    monkeypatch.setattr(sandbox, "in_container", lambda root=None: True)
    capsys.readouterr()
    assert main(["grade", "01-numpy", "--course", str(ws.course_file)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "ada: error: grading refused: isolation 'auto' does not run in this container" in out
    assert "`grading: {backend: celery}`" in out and "`course worker`" in out
    assert "isolation: none" not in out


@pytest.mark.parametrize(("args", "environ", "grading"), [
    ([], {}, {"backend": "local"}),
    (["--backend", "celery"], {}, {"backend": "celery"}),
    (["--backend", "celery", "--broker", "amqp://u:p@rabbit/"], {},
     {"backend": "celery", "broker": "amqp://u:p@rabbit/"}),
    (["--broker", "amqp://u:p@rabbit/"], {}, {"backend": "celery", "broker": "amqp://u:p@rabbit/"}),
    # a stack's hub has the broker's URL: its courses are graded on the fleet
    ([], {"COURSE_BROKER_URL": "amqp://u:p@rabbit/"}, {"backend": "celery"}),
    (["--backend", "local"], {"COURSE_BROKER_URL": "amqp://u:p@rabbit/"}, {"backend": "local"}),
])
def test_course_init_writes_the_grading_backend(tmp_path, monkeypatch, capsys, args, environ,
                                                grading):
    from commands.main import main
    from course.coursefile import load_course
    from course.settings import resolve_grading

    monkeypatch.delenv("COURSE_BROKER_URL", raising=False)
    monkeypatch.delenv("COURSE_DB_URL", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert main(["init", str(tmp_path / "c"), *args]) == 0
    course, _ = load_course(tmp_path / "c" / "course.yml")
    values = resolve_grading(course, None).values
    assert {key: getattr(values, key) for key in grading} == grading
    if "broker" not in grading:  # a password stays out of a file that may be committed
        assert values.broker is None


def test_course_init_refuses_a_broker_for_the_local_backend(tmp_path, capsys):
    from commands.main import main

    assert main(["init", str(tmp_path / "c"), "--backend", "local", "--broker", "amqp://x/"]) == 2
    assert "--broker is the celery backend's" in capsys.readouterr().err
    assert not (tmp_path / "c" / "course.yml").exists()


def test_course_init_for_a_stack_writes_the_course_file_and_no_gradebook(tmp_path, capsys):
    from commands.main import main

    folder = tmp_path / "dl"
    assert main(["init", str(folder), "--id", "dl-2026", "--backend", "celery",
                 "--no-gradebook"]) == 0
    assert "backend: celery" in (folder / "course.yml").read_text()
    assert not (folder / "gradebook.db").exists()
    assert "no gradebook made" in capsys.readouterr().out
