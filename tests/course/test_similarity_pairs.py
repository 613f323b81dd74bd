"""Alike code from different students (``course.similarity.similar_pairs``): real notebooks of
01-numpy, released by nbgrader and collected as the course collects them. The same solution with
other names and the functions in another order is a pair; hand-ins of the template alone are
not; solutions written independently are not. ``course similarity`` lists the pairs and the
identical notebooks, as a table or JSON."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from commands.main import main
from course.code_similarity import (
    MAX_CODE_CHARS,
    Fingerprints,
    marked_lines,
    overlap,
    own_code,
    similarity,
    template_lines,
)
from course.collect import collect
from course.errors import UnknownId
from course.inbox import receive
from course.release import release
from course.similarity import compare_pair, similar_pairs
from course.workspace import open_workspace

HOUR = dt.timedelta(hours=1)
AID = "01-numpy"
NOW = dt.datetime(2026, 10, 20, 9, 0, tzinfo=dt.UTC)

COURSE = """\
id: dl-test
title: Deep Learning (test)
timezone: Europe/Berlin
withdrawal_deadline: 2026-12-01
assignments:
  - {id: 01-numpy, title: NumPy, due: 2026-10-25 18:00}
roster:
  instructors: [{id: ina}]
  students:
    - {id: ada}
    - {id: ben}
    - {id: cleo}
    - {id: dora}
    - {id: emil}
    - {id: fynn}
"""

# ada's work: a helper and the three functions
ADA = {
    "matmul_loops": '''\
def _check_shapes(A, B):
    if A.ndim != 2 or B.ndim != 2:
        raise ValueError(f"expected 2-D arrays, got {A.ndim} and {B.ndim} dimensions")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"incompatible shapes {A.shape} and {B.shape}")

def matmul_loops(A, B):
    """Matrix product of A (n, m) and B (m, p) computed with Python loops."""
    A = np.asarray(A)
    B = np.asarray(B)
    _check_shapes(A, B)
    rows, inner = A.shape
    cols = B.shape[1]
    result = np.zeros((rows, cols), dtype=np.result_type(A, B, float))
    for row in range(rows):
        for col in range(cols):
            total = 0
            for k in range(inner):
                total = total + A[row, k] * B[k, col]
            result[row, col] = total
    return result
''',
    "matmul": '''\
def matmul(A, B):
    """Matrix product of A (n, m) and B (m, p) using NumPy, without Python loops."""
    left, right = np.asarray(A), np.asarray(B)
    if left.shape[-1] != right.shape[0]:
        raise ValueError("the inner dimensions differ: " + str(left.shape) + str(right.shape))
    return np.matmul(left, right)
''',
    "pairwise_sq_dists": '''\
def _as_points(Z):
    points = np.array(Z, dtype=float, copy=True)
    if points.ndim == 1:
        points = points[np.newaxis, :]
    return points

def pairwise_sq_dists(X, Y):
    """Squared Euclidean distances between the rows of X (n, d) and Y (m, d)."""
    first = _as_points(X)
    second = _as_points(Y)
    difference = first[:, np.newaxis, :] - second[np.newaxis, :, :]
    squared = difference * difference
    return squared.sum(axis=2)
''',
}

# ben: ada's work with other names and the helpers after the functions that use them
BEN = {
    "matmul_loops": '''\
def matmul_loops(A, B):
    """Matrix product of A (n, m) and B (m, p) computed with Python loops."""
    a = np.asarray(A)
    b = np.asarray(B)
    shapes_ok(a, b)
    n_rows, n_inner = a.shape
    n_cols = b.shape[1]
    out = np.zeros((n_rows, n_cols), dtype=np.result_type(a, b, float))
    for r in range(n_rows):
        for c in range(n_cols):
            acc = 0
            for t in range(n_inner):
                acc = acc + a[r, t] * b[t, c]
            out[r, c] = acc
    return out

def shapes_ok(a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"expected 2-D arrays, got {a.ndim} and {b.ndim} dimensions")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"incompatible shapes {a.shape} and {b.shape}")
''',
    "matmul": '''\
def matmul(A, B):
    """Matrix product of A (n, m) and B (m, p) using NumPy, without Python loops."""
    p, q = np.asarray(A), np.asarray(B)
    if p.shape[-1] != q.shape[0]:
        raise ValueError("the inner dimensions differ: " + str(p.shape) + str(q.shape))
    return np.matmul(p, q)
''',
    "pairwise_sq_dists": '''\
def pairwise_sq_dists(X, Y):
    """Squared Euclidean distances between the rows of X (n, d) and Y (m, d)."""
    xs = to_points(X)
    ys = to_points(Y)
    delta = xs[:, np.newaxis, :] - ys[np.newaxis, :, :]
    sq = delta * delta
    return sq.sum(axis=2)

def to_points(data):
    pts = np.array(data, dtype=float, copy=True)
    if pts.ndim == 1:
        pts = pts[np.newaxis, :]
    return pts
''',
}

# emil and fynn: each their own way
EMIL = {
    "matmul_loops": '''\
def matmul_loops(A, B):
    """Matrix product of A (n, m) and B (m, p) computed with Python loops."""
    A, B = np.asarray(A), np.asarray(B)
    n, m = A.shape
    if B.shape[0] != m:
        raise ValueError("shape mismatch")
    rows = []
    i = 0
    while i < n:
        rows.append([sum(A[i][k] * B[k][j] for k in range(m)) for j in range(B.shape[1])])
        i += 1
    return np.array(rows, dtype=np.result_type(A, B)).reshape(n, B.shape[1])
''',
    "matmul": '''\
def matmul(A, B):
    """Matrix product of A (n, m) and B (m, p) using NumPy, without Python loops."""
    return np.dot(np.asarray(A), np.asarray(B))
''',
    "pairwise_sq_dists": '''\
def pairwise_sq_dists(X, Y):
    """Squared Euclidean distances between the rows of X (n, d) and Y (m, d)."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    norms_x = np.einsum("ij,ij->i", X, X)
    norms_y = np.einsum("ij,ij->i", Y, Y)
    cross = X @ Y.T
    return np.maximum(norms_x[:, None] + norms_y[None, :] - 2.0 * cross, 0.0)
''',
}
FYNN = {
    "matmul_loops": '''\
def matmul_loops(A, B):
    """Matrix product of A (n, m) and B (m, p) computed with Python loops."""
    A = np.array(A)
    B = np.array(B)
    try:
        (n, m), (m2, p) = A.shape, B.shape
    except ValueError:
        raise ValueError("two matrices, please") from None
    if m != m2:
        raise ValueError("inner sizes differ")
    C = np.zeros((n, p), dtype=(A[:1, :1] * B[:1, :1]).dtype)
    for (i, j), _ in np.ndenumerate(C):
        C[i, j] = sum(a * b for a, b in zip(A[i, :], B[:, j]))
    return C
''',
    "pairwise_sq_dists": '''\
def pairwise_sq_dists(X, Y):
    """Squared Euclidean distances between the rows of X (n, d) and Y (m, d)."""
    X = np.atleast_2d(np.asarray(X, float))
    Y = np.atleast_2d(np.asarray(Y, float))
    return np.square(np.subtract.outer(X, Y).diagonal(axis1=1, axis2=3)).sum(axis=-1)
''',
}


def handed_in(released: bytes, solutions: dict[str, str]) -> bytes:
    """The released notebook with the solution cells (by grade id) replaced by ``solutions``."""
    nb = json.loads(released)
    for cell in nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell["source"] = solutions[grade_id]
    return json.dumps(nb, indent=1).encode()


@pytest.fixture
def course(make_course):
    """01-numpy released; ada, ben (ada's work renamed and reordered), cleo and dora (the
    template unchanged, dora's re-saved), emil and fynn (their own work) handed in on time and
    collected. Yields the workspace and the notebook's name."""
    ws = open_workspace(make_course(COURSE, assignments=(AID,)))
    release(ws, AID, now=NOW)
    (name,) = [p.name for p in (ws.source / AID).glob("*.ipynb")]
    released = (ws.root / "exchange" / ws.course.id / "outbound" / AID / name).read_bytes()
    resaved = json.loads(released)
    resaved["metadata"]["widgets"] = {"state": {}}
    work = {"ada": handed_in(released, ADA), "ben": handed_in(released, BEN),
            "cleo": released, "dora": json.dumps(resaved, indent=2).encode(),
            "emil": handed_in(released, EMIL), "fynn": handed_in(released, FYNN)}
    with ws.gradebook() as gb:
        for student, content in work.items():
            receive(ws, gb, student, AID, {name: content}, received_at=ws.course.due(AID) - HOUR)
    assert len(collect(ws, AID)) == 6
    return ws, name


def test_the_renamed_and_reordered_copy_is_the_only_pair(course):
    ws, name = course
    pairs = similar_pairs(ws, AID, fingerprints=Fingerprints())
    assert [(p.notebook, p.student_ids) for p in pairs] == [(name, ("ada", "ben"))]
    (pair,) = pairs
    assert min(pair.similarity) >= 0.8, pair.similarity

    # nobody else comes near, even at half the course's threshold: the template's code is not
    # the students' own, and independent solutions share little
    low = similar_pairs(ws, AID, threshold=0.3, fingerprints=Fingerprints())
    assert [p.student_ids for p in low] == [("ada", "ben")], low
    everyone = similar_pairs(ws, AID, threshold=0.0, fingerprints=Fingerprints())
    assert not {"cleo", "dora"} & {s for p in everyone for s in p.student_ids}


def test_the_course_files_threshold_is_the_default(course):
    ws, _ = course
    assert ws.course.similarity.threshold == 0.6
    text = ws.course_file.read_text() + "similarity: {threshold: 1.0}\n"
    ws.course_file.write_text(text)
    strict = open_workspace(ws.course_file)
    (pair,) = similar_pairs(ws, AID, fingerprints=Fingerprints())
    assert similar_pairs(strict, AID, fingerprints=Fingerprints()) == (
        [pair] if pair.score >= 1.0 else [])


def test_released_notebooks_given_are_not_read_again(course, monkeypatch):
    """The dashboard reads the released notebooks once for its page and passes them on."""
    import course.similarity as similarity_module
    from course.blank_work import released_notebooks

    ws, _ = course
    released = released_notebooks(ws, AID)
    expected = similar_pairs(ws, AID, fingerprints=Fingerprints())

    def read_again(*args):
        raise AssertionError("the released notebooks were read again")

    monkeypatch.setattr(similarity_module, "released_notebooks", read_again)
    assert similar_pairs(ws, AID, fingerprints=Fingerprints(), released=released) == expected
    assert similar_pairs(ws, AID, fingerprints=Fingerprints(), released={}) == []
    inputs = similarity_module.pair_inputs(ws, AID, released=released)
    assert [student for student, *_ in inputs.hand_ins] == ["ada", "ben", "cleo", "dora",
                                                            "emil", "fynn"]
    assert similarity_module.pairs_among(inputs, Fingerprints()) == expected


def test_the_side_by_side_marks_the_shared_code_and_not_the_template(course):
    ws, name = course
    comparison = compare_pair(ws, AID, "ada", "ben")
    assert comparison.only == {"ada": [], "ben": []}
    (notebook,) = comparison.notebooks
    assert notebook.notebook == name
    ada, ben = notebook.sides
    marked_ada = "".join(s.text for line in ada for s in line.segments if s.marked)
    marked_ben = "".join(s.text for line in ben for s in line.segments if s.marked)
    assert "total = total + A[row, k] * B[k, col]" in marked_ada
    assert "acc = acc + a[r, t] * b[t, c]" in marked_ben
    # the template's lines are shown, never marked: the imports, the tests, the signatures
    template = [line for line in ada if not line.own]
    assert any("import numpy as np" in s.text for line in template for s in line.segments)
    assert any(line.segments[0].text.startswith("def matmul_loops") for line in template)
    assert not any(s.marked for line in template for s in line.segments)
    # every line of the notebook's code is there, in order
    lines = ["".join(s.text for s in line.segments) for line in ada]
    assert "def _check_shapes(A, B):" in lines
    assert lines.index("def _check_shapes(A, B):") < lines.index("def matmul_loops(A, B):")


def test_a_pair_view_of_unknown_ids_reads_nothing(course):
    ws, _ = course
    for first, second in [("ada", "zoe"), ("../ada", "ben"), ("ina", "ada"), ("ada", "ada")]:
        with pytest.raises(UnknownId):
            compare_pair(ws, AID, first, second)
    with pytest.raises(UnknownId):
        compare_pair(ws, "../01-numpy", "ada", "ben")
    with pytest.raises(UnknownId):
        similar_pairs(ws, "99-nothing")


def test_course_similarity_lists_pairs_and_identical_notebooks(course, capsys):
    ws, name = course
    # fynn hands in emil's notebook late: collected again, the two are byte-identical
    emil = (ws.root / "submitted" / "emil" / AID / name).read_bytes()
    with ws.gradebook() as gb:
        receive(ws, gb, "fynn", AID, {name: emil}, received_at=ws.course.due(AID) - HOUR / 2)
    collect(ws, AID)
    assert main(["similarity", AID, "--course", str(ws.course_file), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["assignment"] == AID and out["threshold"] == 0.6
    # most alike first: the byte-identical pair shares all its code, as do ada and ben
    assert [p["students"] for p in out["pairs"]] == [["ada", "ben"], ["emil", "fynn"]]
    assert out["pairs"][1]["similarity"] == [1.0, 1.0]
    assert out["identical"] == [{"notebook": name, "students": ["emil", "fynn"],
                                 "sha256": out["identical"][0]["sha256"]}]

    assert main(["similarity", AID, "--course", str(ws.course_file)]) == 0
    table = capsys.readouterr().out
    assert "ada" in table and "ben" in table and "cleo" not in table
    assert "never a penalty" in table

    assert main(["similarity", AID, "--course", str(ws.course_file), "--threshold", "1.5"]) == 2
    assert "--threshold" in capsys.readouterr().err
    assert main(["similarity", "99-nothing", "--course", str(ws.course_file)]) == 2
    assert "unknown assignment" in capsys.readouterr().err


def test_own_code_leaves_out_the_template_and_junk():
    template = template_lines([json.dumps({"cells": [
        {"cell_type": "code", "source": ["import numpy as np\n", "def f(x):\n",
                                         "    # YOUR CODE HERE\n", "    raise NotImplementedError()"]},
        {"cell_type": "markdown", "source": "text"}]}).encode()])
    assert template == {"import numpy as np", "def f(x):", "# YOUR CODE HERE",
                        "raise NotImplementedError()"}
    code = own_code(json.dumps({"cells": [{"cell_type": "code", "source": (
        "import numpy as np\ndef f(x):\n\n    y = np.tanh(x) * 2 + np.cosh(x) - 1\n"
        "    return np.maximum(y, x ** 2 - 3 * x)\n")}]}).encode(), template)
    assert code.text == ("    y = np.tanh(x) * 2 + np.cosh(x) - 1\n"
                         "    return np.maximum(y, x ** 2 - 3 * x)")
    assert [line.own for line in code.lines] == [False, False, False, True, True]
    for junk in (b"", b"not json", b"[]", b'{"cells": 3}', b'{"cells": [3]}'):
        assert own_code(junk, template) is None, junk

    # a match marks exactly the shared part of the line
    prints = Fingerprints()
    same = json.dumps({"cells": [{"cell_type": "code", "source": code.text}]}).encode()
    first, second = prints.get(same, frozenset()), prints.get(same, frozenset())
    assert first is second  # kept by checksum
    mine = own_code(same, frozenset())
    found = overlap(mine, mine)
    assert found.similarity == similarity(first, second) == (1.0, 1.0)
    lines = marked_lines(mine, found.spans[0])
    assert ["".join(s.text for s in line.segments if s.marked).strip() for line in lines] == [
        line.strip() for line in code.text.splitlines()]


def test_the_fast_shares_are_copydetects(course):
    """``similarity`` (arrays, for every pair) gives what copydetect's ``compare_files`` (the
    side-by-side view) gives, for every pair of the course."""
    ws, name = course
    prints = Fingerprints()
    template = template_lines(
        [(ws.root / "exchange" / ws.course.id / "outbound" / AID / name).read_bytes()])
    students = ["ada", "ben", "cleo", "dora", "emil", "fynn"]
    notebooks = {s: (ws.root / "submitted" / s / AID / name).read_bytes() for s in students}
    found = {s: prints.get(content, template) for s, content in notebooks.items()}
    code = {s: own_code(content, template) for s, content in notebooks.items()}
    compared = 0
    for i, first in enumerate(students):
        for second in students[i + 1:]:
            fast = similarity(found[first], found[second])
            assert fast == pytest.approx(overlap(code[first], code[second]).similarity)
            compared += any(fast)
    assert compared >= 2  # not only zeros: ada and ben, emil and fynn share some code


def test_a_notebook_of_megabytes_of_code_costs_no_more_than_its_first_part():
    line = "x_total = np.sum(values * weights) + offset_value  # a long enough line\n"
    huge = json.dumps({"cells": [{"cell_type": "code", "source": line * 100_000}]}).encode()
    assert len(huge) > 7_000_000
    code = own_code(huge, frozenset())
    assert code.cut and len(code.text) <= MAX_CODE_CHARS
    assert len(code.lines) == MAX_CODE_CHARS // len(line)
    small = own_code(json.dumps({"cells": [{"cell_type": "code", "source": line}]}).encode(),
                     frozenset())
    assert not small.cut
    prints = Fingerprints()
    assert similarity(prints.get(huge, frozenset()), prints.get(huge, frozenset())) == (1.0, 1.0)


def test_a_bad_threshold_in_the_course_file_is_named(tmp_path, capsys):
    (tmp_path / "course.yml").write_text(COURSE + "similarity: {threshold: 2}\n")
    assert main(["validate", "--course", str(tmp_path)]) == 2
    assert "course.yml:16: similarity.threshold: Input should be less than or equal to 1" in \
        capsys.readouterr().err


def test_nothing_is_compared_without_the_template(course, capsys):
    ws, name = course
    outbound = ws.root / "exchange" / ws.course.id / "outbound" / AID
    (outbound / name).unlink()  # the template is gone: every hand-in would look alike
    assert similar_pairs(ws, AID, threshold=0.0, fingerprints=Fingerprints()) == []
    assert main(["similarity", AID, "--course", str(ws.course_file)]) == 0
    assert "01-numpy is not released (course release)" in capsys.readouterr().out
