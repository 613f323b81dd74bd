"""How long the similarity check takes on a big course: 150 students' collected notebooks of
01-numpy (the real released notebook as template, each student's own code about 40 lines in its
three solution cells, a few pairs copied with other names), compared pair by pair.

Timed, medians over the repeats:
- cold: ``similar_pairs`` with no fingerprint kept (what ``course similarity`` pays: every
  notebook read, its own code fingerprinted, every pair compared);
- warm: the same call again with the fingerprints kept by checksum (the dashboard's assignment
  page after a new hand-in: only the comparisons);
- again: the same call with nothing handed in since (the page's next view: the list is kept);
- cli: ``course similarity 01-numpy --format json`` in a fresh interpreter (imports included).

    python benchmarks/similarity_bench.py [--students 150] [--repeats 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

AID = "01-numpy"
CELLS = ("matmul_loops", "matmul", "pairwise_sq_dists")
COPIED = 5  # pairs in which one student hands in another's work with other names


def course_yml(students: int) -> str:
    people = "\n".join(f"    - {{id: s{i:03d}}}" for i in range(students))
    return (f"id: bench\ntitle: Similarity benchmark\ntimezone: Europe/Berlin\n"
            f"withdrawal_deadline: 2027-06-30\nassignments:\n"
            f"  - {{id: {AID}, title: NumPy, due: 2026-10-25 18:00}}\n"
            f"roster:\n  instructors: [{{id: ina}}]\n  students:\n{people}\n")


def _expression(rng: random.Random, names: list[str], depth: int = 0) -> str:
    """A random expression: copydetect keeps operators, numbers and keywords and turns every
    name into a placeholder, so these are what tells two students' code apart."""
    pick = rng.randrange(7 if depth < 2 else 2)
    if pick == 0:
        return rng.choice(names)
    if pick == 1:
        return str(rng.choice([rng.randint(0, 99), round(rng.uniform(0, 9), 2)]))
    if pick == 2:
        return (f"{_expression(rng, names, depth + 1)} {rng.choice(['+', '-', '*', '/', '**', '@'])}"
                f" {_expression(rng, names, depth + 1)}")
    if pick == 3:
        args = ", ".join(_expression(rng, names, depth + 1) for _ in range(rng.randint(1, 3)))
        return f"np.{rng.choice(['sum', 'dot', 'sqrt', 'maximum', 'where'])}({args})"
    if pick == 4:
        index = rng.choice([":, None", "i", "::2", "..., 0", "-1", "1:", "i, j"])
        return f"{rng.choice(names)}[{index}]"
    if pick == 5:
        return f"({_expression(rng, names, depth + 1)})"
    return f"{rng.choice(names)}.{rng.choice(['T', 'shape[0]', 'ndim', 'sum(axis=1)'])}"


def own_code(rng: random.Random, cell: str) -> str:
    """A function of about 13 lines of the student's own: statements drawn at random, so
    students differ as independent work does."""
    names = [f"{rng.choice('abcdxyzpqrst')}{rng.randint(0, 99)}" for _ in range(6)]
    lines = [f"def {cell}(A, B):"]
    for _ in range(rng.randint(9, 14)):
        target = rng.choice(names)
        pattern = rng.randrange(5)
        if pattern < 2:
            lines.append(f"    {target} = {_expression(rng, names)}")
        elif pattern == 2:
            lines.append(f"    for i in range({rng.choice(names)}.shape[{rng.randint(0, 1)}]):\n"
                         f"        {target}[i] {rng.choice(['=', '+=', '-='])} "
                         f"{_expression(rng, names)}")
        elif pattern == 3:
            lines.append(f"    if {_expression(rng, names)} {rng.choice(['<', '!=', '>='])} "
                         f"{rng.randint(0, 9)}:\n        raise ValueError('bad {target}')")
        else:
            lines.append(f"    {target} {rng.choice(['+=', '*=', '-='])} "
                         f"{_expression(rng, names)}")
    lines.append(f"    return {_expression(rng, names)}")
    return "\n".join(lines) + "\n"


def renamed(code: str, rng: random.Random) -> str:
    """The same code with other variable names (what a copier does first)."""
    words = code.replace("(", " ").replace(")", " ").replace(",", " ").replace("[", " ").split()
    for name in sorted({word for word in words if word[:1].isalpha() and word[1:].isdigit()},
                       key=len, reverse=True):
        code = code.replace(name, f"v{rng.randint(100, 999)}")
    return code


def build(root: Path, students: int, seed: int = 1) -> None:
    from course.gradebook.database import upgrade_database
    from course.release import release
    from course.workspace import open_workspace

    root.mkdir(parents=True)
    (root / "course.yml").write_text(course_yml(students))
    shutil.copytree(REPO / "assignments" / AID, root / "assignments" / AID)
    ws = open_workspace(root / "course.yml")
    upgrade_database(ws.db_url)
    release(ws, AID, now=ws.course.due(AID) - dt.timedelta(days=7), by="ina")
    (name,) = [p.name for p in (ws.root / "exchange" / "bench" / "outbound" / AID).iterdir()]
    released = json.loads((ws.root / "exchange" / "bench" / "outbound" / AID / name).read_text())
    rng = random.Random(seed)
    work = {f"s{i:03d}": {cell: own_code(rng, cell) for cell in CELLS} for i in range(students)}
    for i in range(COPIED):  # s001 copies s000, s003 copies s002, ...
        original, copier = f"s{2 * i:03d}", f"s{2 * i + 1:03d}"
        work[copier] = {cell: renamed(code, rng) for cell, code in work[original].items()}
    for student, cells in work.items():
        nb = json.loads(json.dumps(released))
        for cell in nb["cells"]:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id in cells:
                cell["source"] = cells[grade_id]
        folder = root / "submitted" / student / AID
        folder.mkdir(parents=True)
        (folder / name).write_text(json.dumps(nb, indent=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from course.code_similarity import Fingerprints
    from course.similarity import similar_pairs
    from course.workspace import open_workspace

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "course"
        build(root, args.students)
        ws = open_workspace(root / "course.yml")
        cold, warm, again, cli = [], [], [], []
        cold_cpu, warm_cpu, again_cpu = [], [], []
        for _ in range(args.repeats):
            kept = Fingerprints()
            started, cpu = time.perf_counter(), time.process_time()
            pairs = similar_pairs(ws, AID, fingerprints=kept)
            cold.append(time.perf_counter() - started)
            cold_cpu.append(time.process_time() - cpu)
            kept.listings.clear()  # the fingerprints kept, the pairs compared again
            started, cpu = time.perf_counter(), time.process_time()
            assert similar_pairs(ws, AID, fingerprints=kept) == pairs
            warm.append(time.perf_counter() - started)
            warm_cpu.append(time.process_time() - cpu)
            started, cpu = time.perf_counter(), time.process_time()
            assert similar_pairs(ws, AID, fingerprints=kept) == pairs
            again.append(time.perf_counter() - started)
            again_cpu.append(time.process_time() - cpu)
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "commands.main", "similarity", AID,
                                  "--course", str(root), "--format", "json"], cwd=REPO,
                                 check=True, capture_output=True, text=True).stdout
            cli.append(time.perf_counter() - started)
        found = {tuple(p["students"]) for p in json.loads(out)["pairs"]}
        copied = {(f"s{2 * i:03d}", f"s{2 * i + 1:03d}") for i in range(COPIED)}
        comparisons = args.students * (args.students - 1) // 2
        print(f"{args.students} students, {comparisons} pairs compared, "
              f"{len(pairs)} listed at the default threshold "
              f"({len(found & copied)} of the {COPIED} copies, {len(found - copied)} others)")
        # wall time, and this process's CPU time (on a shared machine the wall time waits
        # for other processes too)
        for label, times, cpu in (("cold (course similarity's work)", cold, cold_cpu),
                                  ("warm (fingerprints kept)", warm, warm_cpu),
                                  ("again (nothing handed in since)", again, again_cpu),
                                  ("cli, fresh interpreter", cli, None)):
            print(f"  {label:34s} {statistics.median(times):6.2f} s"
                  + (f" (cpu {statistics.median(cpu):.2f} s)" if cpu else ""))
        print(f"  warm / cold: {statistics.median(warm) / statistics.median(cold):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
