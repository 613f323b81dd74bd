"""benchmarks/fleet_sizing.py: the queue model against cases computed by hand, and its command
line (given per-job times, so nothing is measured here)."""

from __future__ import annotations

import json
import math
import sys

import pytest
from small_courses import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import fleet_sizing as fs  # benchmarks/ is not a package: on sys.path above


def test_a_fifo_queue_of_identical_workers_by_hand():
    # 5 jobs of 10 s, all sent at the deadline, 2 workers: ends 10, 10, 20, 20, 30
    jobs = [fs.Job("cpu", 0.0, 10.0)] * 5
    assert fs.simulate(jobs, 2) == (30.0, 20.0, 20.0)
    assert fs.simulate(jobs, 5) == (10.0, 10.0, 0.0)  # one each: nobody waits
    assert fs.simulate(jobs, 9) == (10.0, 10.0, 0.0)  # idle workers change nothing
    # one worker: the second job, sent at 5 s, waits for the first to end at 10 s
    assert fs.simulate([fs.Job("gpu", 5.0, 10.0), fs.Job("gpu", 0.0, 10.0)], 1) \
        == (20.0, 10.0, 5.0)
    # a job sent after the worker went idle starts when it is sent
    assert fs.simulate([fs.Job("gpu", 0.0, 10.0), fs.Job("gpu", 50.0, 10.0)], 1)[0] == 60.0
    assert fs.simulate([], 3) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="at least one worker"):
        fs.simulate(jobs, 0)


def test_hand_ins_cluster_before_the_deadline_and_the_sweep_sends_them_after_it():
    times = fs.arrivals(4, 600.0)
    assert times == sorted(times) and all(t < 0 for t in times)
    # the quantiles (i + 0.5) / n of an exponential of mean 600 s before the deadline
    assert times[-1] == pytest.approx(600 * math.log(1 - 0.125))
    assert fs.arrivals(3, 0.0) == [0.0, 0.0, 0.0]
    assert fs.sent_at(-30.0, on_arrival=False) == 0.0  # the first sweep at the deadline
    assert fs.sent_at(61.0, on_arrival=False) == 120.0  # a late hand-in: the next sweep
    assert fs.sent_at(-30.0, on_arrival=True) == -30.0


def test_the_command_line_sizes_a_deadline_computed_by_hand(capsys):
    # 2 courses x 4 students: one hands in a GPU assignment (4 jobs of 100 s), the other a
    # CPU one (4 jobs of 30 s); every job is sent by the sweep at the deadline
    assert fs.main(["--courses", "2", "--students", "4", "--gpu-fraction", "0.5",
                    "--cpu-seconds", "30", "--gpu-seconds", "100", "--cpu-slots", "1", "2",
                    "--gpu-workers", "1", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    graded = {(r["queue"], r["workers"]): (r["jobs"], r["all_graded_s"], r["median_graded_s"])
              for r in report["results"]}
    assert graded == {("cpu", 1): (4, 120.0, 60.0), ("cpu", 2): (4, 60.0, 30.0),
                      ("gpu", 1): (4, 400.0, 200.0), ("gpu", 3): (4, 200.0, 100.0)}
    assert report["gpu_seconds"] == {"value": 100.0, "measured": False, "source":
                                     "assumed: no GPU machine was available to measure it"}
    assert report["cpu_seconds"]["measured"] is None  # given, not measured


def test_grading_on_arrival_can_finish_before_the_deadline(capsys):
    # 2 students, mean 60 min before the deadline: hand-ins at 3600 ln(0.25) and 3600 ln(0.75)
    # seconds (about -83 and -17 min); one GPU worker, 100 s each: both graded before 18:00
    fs.main(["--courses", "1", "--students", "2", "--gpu-fraction", "1", "--gpu-seconds", "100",
             "--cpu-seconds", "1", "--gpu-workers", "1", "--cpu-slots", "1",
             "--grade-on-arrival", "--json"])
    (gpu,) = [r for r in json.loads(capsys.readouterr().out)["results"] if r["queue"] == "gpu"]
    assert gpu["all_graded_s"] == round(3600 * math.log(0.75) + 100, 1)
    assert gpu["longest_wait_s"] == 0.0


@pytest.mark.parametrize("bad", [["--gpu-fraction", "2"], ["--cpu-slots", "0"],
                                 ["--cpu-seconds", "0"], ["--handed-in", "0"]])
def test_bad_input_fails_clearly(bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        fs.main(["--cpu-seconds", "1", *bad] if bad[0] != "--cpu-seconds" else bad)
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err
