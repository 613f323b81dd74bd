"""Checks for hidden graders: gradients, shapes, closeness, thresholds over seeds.

Each check raises ``AssertionError`` with a message a student can act on (the message is what
the feedback shows; the grader's source never is). They take plain functions, so they work the
same on a local reference and on the student's functions through the ``submission`` proxy.
"""

from __future__ import annotations

import ast
import random
import re
import time
from collections.abc import Callable, Sequence

import numpy as np

from .cells import cell_label

__all__ = [
    "assert_array",
    "assert_close",
    "assert_no_loops",
    "assert_shape",
    "assert_uses_loops",
    "assert_vectorized",
    "count_python_work",
    "gradient_check",
    "numeric_gradient",
    "passes_for_seeds",
    "relative_error",
    "seed_local",
]


def relative_error(a, b, eps: float = 1e-12) -> float:
    """max |a-b| / max(|a|+|b|, eps), elementwise: the usual gradient-check measure."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), eps), initial=0.0))


def numeric_gradient(f: Callable, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Centered finite differences of the scalar function ``f`` at ``x``."""
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        plus = float(f(x.copy()))
        x[index] = old - h
        minus = float(f(x.copy()))
        x[index] = old
        grad[index] = (plus - minus) / (2 * h)
    return grad


def gradient_check(f: Callable, grad_f: Callable, x, *, h: float = 1e-5, tol: float = 1e-6,
                   what: str = "gradient") -> float:
    """Compare ``grad_f(x)`` with the centered difference of ``f`` at ``x``; returns the error.

    The error of each element is measured against the size of the whole gradient::

        error = max_i |analytic_i - numeric_i| / (max_j |analytic_j| + max_j |numeric_j|)

    and must be at most ``tol``. A finite difference is off by about the same absolute amount
    in every element (rounding in ``f`` over ``h``, plus ``h**2`` times a third derivative), so
    an element that happens to be tiny is not held to a tighter bound than the rest, as it is
    by the elementwise ``relative_error``. For a single number the two measures are the same.
    A sign error, a wrong factor or a missing term in any element larger than about
    ``tol`` times the largest one fails; the message names the element whose error is largest
    (its index, analytic and numeric value).
    """
    x = np.asarray(x, dtype=float)
    analytic = np.asarray(grad_f(x.copy()), dtype=float)
    assert_shape(analytic, x.shape, what)
    numeric = numeric_gradient(f, x, h)
    for name, values in (("the gradient", analytic), ("the finite difference", numeric)):
        bad = np.argwhere(~np.isfinite(values))
        assert not len(bad), (f"{what}: {name} contains NaN or infinity "
                              f"(at index {tuple(int(i) for i in bad[0])})")
    if not x.size:
        return 0.0
    difference = np.abs(analytic - numeric)
    scale = max(float(np.max(np.abs(analytic)) + np.max(np.abs(numeric))), 1e-12)
    worst = np.unravel_index(np.argmax(difference), x.shape)
    error = float(difference[worst]) / scale
    assert error <= tol, (
        f"{what}: relative error {error:.2e} exceeds {tol:.0e} (at index "
        f"{tuple(int(i) for i in worst)}: analytic {analytic[worst]:.6g}, "
        f"numeric {numeric[worst]:.6g}; errors are relative to the largest entry)")
    return error


def _shape(value) -> tuple:
    """The shape of the data itself. ``np.shape`` first reads an object's own ``shape``
    attribute, and an object of the student's process (a RemoteObject) answers every
    attribute read: it could claim the expected shape without being an array."""
    return value.shape if type(value) is np.ndarray else np.asarray(value).shape


def assert_shape(value, shape: Sequence[int], what: str = "result") -> None:
    actual = _shape(value)
    assert tuple(actual) == tuple(shape), f"{what}: expected shape {tuple(shape)}, got {actual}"


def assert_array(value, *, shape=None, dtype_kind: str | None = None, what: str = "result"):
    """An ndarray (not a list, not an object array) with the given shape and dtype kind
    ('f' float, 'i' integer, 'b' bool)."""
    assert isinstance(value, np.ndarray), f"{what}: expected a numpy array, got {type(value).__name__}"
    if shape is not None:
        assert_shape(value, shape, what)
    if dtype_kind is not None:
        kinds = {"i": "iu", "f": "f", "b": "b"}.get(dtype_kind, dtype_kind)
        assert value.dtype.kind in kinds, f"{what}: expected dtype kind {dtype_kind}, got {value.dtype}"


def assert_close(actual, expected, *, rtol: float = 1e-6, atol: float = 1e-8,
                 what: str = "result") -> None:
    """Same shape and close elementwise; the message names the worst element."""
    expected = np.asarray(expected, dtype=float)
    assert _shape(actual) == expected.shape, (
        f"{what}: expected shape {expected.shape}, got {_shape(actual)}")
    actual = np.asarray(actual, dtype=float)
    assert np.all(np.isfinite(actual)), f"{what}: contains NaN or infinity"
    if not np.allclose(actual, expected, rtol=rtol, atol=atol):
        worst = np.unravel_index(np.argmax(np.abs(actual - expected)), expected.shape) \
            if expected.ndim else ()
        raise AssertionError(f"{what}: differs from the expected value (at index {tuple(int(i) for i in worst)}: "
                             f"got {actual[worst]:.6g}, expected {expected[worst]:.6g})")


def passes_for_seeds(trial: Callable[[int], bool], seeds: Sequence[int], *, need: int,
                     what: str = "check") -> list[bool]:
    """Run ``trial(seed)`` seed by seed; at least ``need`` must return True ("m of k").

    Stops as soon as the answer is known: ``need`` trials passed, or too few seeds are left for
    ``need`` to be reached (each trial is often a training run). Returns the outcomes of the
    trials that ran, in the order of ``seeds``."""
    outcomes: list[bool] = []
    for seed in seeds:
        passed = sum(outcomes)
        if passed >= need or passed + len(seeds) - len(outcomes) < need:
            break
        outcomes.append(bool(trial(seed)))
    assert sum(outcomes) >= need, (
        f"{what}: passed for {sum(outcomes)} of {len(outcomes)} seeds tried, needs {need} of "
        f"{len(seeds)}")
    return outcomes


def seed_local(seed: int) -> None:
    """Seed the grader's own generators (the student's: ``submission.seed``)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)


# Words in the notebook's source that only code tampering with the runtime measure needs (see
# autograder.measure): a second, static signal next to the counts.
MEASURE_TAMPERING = re.compile(
    r"settrace|setprofile|gettrace|getprofile|f_trace|_current_frames|ctypes|student_runner"
    r"|autograder|get_referrers|get_objects|PyEval")


MEASURE_TRIES = 3


def count_python_work(submission, call: Callable[[int], object],
                      sizes: Sequence[int]) -> list:
    """The Python work (``CallCounts``) of ``call(n)`` for each ``n`` in ``sizes``, as the
    student's process counted it; ``call`` makes its calls to the notebook on inputs of size n."""
    counted = []
    for n in sizes:
        with submission.counting() as counts:
            call(n)
        counted.append(counts)
    return counted


def _measured_growth(submission, call, sizes, what) -> tuple[list[int], list]:
    sizes = [int(n) for n in sizes]
    assert len(sizes) >= 2 and sizes[0] < sizes[-1], "sizes: at least two, increasing"
    for attempt in range(MEASURE_TRIES):  # other processes still settling (a fork bomb's
        if attempt:                       # children) pass; work handed to them every time not
            time.sleep(0.2)
        counted = count_python_work(submission, call, sizes)
        escapes = sorted({why for c in counted for why in c.escapes})
        if not escapes:
            break
    assert all(c.measured for c in counted), f"{what}: no call to the notebook was measured"
    assert not escapes, (f"{what}: its Python work cannot be measured ({'; '.join(escapes)}); "
                         "compute in the calling thread, without threads or processes")
    tampering = MEASURE_TAMPERING.search(_without_magics(submission.source))
    assert tampering is None, (f"{what}: the notebook refers to the grading machinery "
                               f"({tampering.group(0) if tampering else ''}); remove that code")
    return sizes, counted


def _growth(sizes, first: int, last: int) -> float:
    return (last - first) / (sizes[-1] - sizes[0])


def assert_vectorized(submission, call: Callable[[int], object], *,
                      sizes: Sequence[int] = (16, 256), per_element: float = 0.25,
                      what: str = "the function") -> list:
    """"No Python loops", measured: the Python work of ``call(n)`` in the student's process,
    lines of Python code run plus elements of arrays handed to Python as objects
    (``CallCounts.work``), may grow by at most ``per_element`` per unit of ``n`` between the
    sizes. A loop reached any way (``globals()``, ``exec``, a callable object, a dict of
    functions, ``map``, ``np.vectorize``, ``np.apply_along_axis``) runs at least one line per
    element; a loop driven by C callables (``map(B.T.dot, A)``, ``itertools.starmap``,
    ``math.fsum``, ``functools.reduce``, ``np.frompyfunc``) runs none but takes every element
    as a Python object; NumPy operations do neither at any size. Returns the counts."""
    sizes, counted = _measured_growth(submission, call, sizes, what)
    first, last = counted[0], counted[-1]
    assert _growth(sizes, first.work, last.work) <= per_element, (
        f"{what} runs Python code for each element ({first.lines} lines of Python and "
        f"{first.elements} array elements taken one by one for n={sizes[0]}, {last.lines} and "
        f"{last.elements} for n={sizes[-1]}); use NumPy operations on whole arrays instead of "
        "loops, map, math.fsum, functools.reduce, np.vectorize or np.apply_along_axis")
    return counted


def assert_uses_loops(submission, call: Callable[[int], object], *,
                      sizes: Sequence[int] = (8, 32), per_element: float = 1.0,
                      bulk_per_element: float = 0.5, what: str = "the function") -> list:
    """"Use Python loops", measured: ``call(n)`` runs at least ``per_element`` more lines of
    Python per unit of ``n`` (a NumPy operation such as ``np.dot`` runs none), and the loop
    does the work: the largest NumPy computation of the call (``CallCounts.bulk``) grows by
    less than ``bulk_per_element`` elements per unit of ``n``. A loop beside one vectorized
    call (``for _ in range(n): pass`` before ``A @ B``) fails the second part; NumPy on a row
    or a scalar inside the loop does not grow with ``n``. Returns the counts."""
    sizes, counted = _measured_growth(submission, call, sizes, what)
    first, last = counted[0], counted[-1]
    assert _growth(sizes, first.lines, last.lines) >= per_element, (
        f"{what} does not loop over the elements in Python ({first.lines} lines of Python "
        f"for n={sizes[0]}, {last.lines} for n={sizes[-1]}); this part asks for "
        "explicit loops")
    assert _growth(sizes, first.bulk, last.bulk) < bulk_per_element, (
        f"{what} computes with NumPy on whole arrays beside its loop (its largest NumPy "
        f"operation covers {first.bulk} elements for n={sizes[0]}, {last.bulk} for "
        f"n={sizes[-1]}); this part asks for the loops to compute the result")
    return counted


def assert_no_loops(source: str, function: str) -> None:
    """The function ``function`` in ``source`` (``submission.source``) has no for/while loop or
    comprehension. Static: the student's code is parsed, never run, in the grader's process.
    Fooled by indirection (``map``, ``exec``, ...): an extra signal next to
    ``assert_vectorized``, which measures what runs.

    Each cell is parsed on its own (``source.cells``; a plain string is one cell): a cell with a
    syntax error defines nothing when the notebook runs, so it fails only the check of a
    function whose last definition is in it, and the message names that cell and line."""
    parsed, broken = _parse_cells(source)
    defs = {}  # the last plain top-level def of each name: (position, cell label, node)
    for position, label, tree in parsed:
        defs.update({name: (position, label, node)
                     for name, node in _module_functions(tree).items()})
    unparsed = [b for b in broken if _defines(b[4], function)]
    if unparsed and (function not in defs or unparsed[-1][0] > defs[function][0]):
        _position, label, line, message, _code = unparsed[-1]
        raise AssertionError(
            f"{function} is defined in "
            + (f"{label}, which does not parse" if label else "code that does not parse")
            + (f" (line {line}: {message})" if line else f" ({message})")
            + ("; fix that cell" if label else ""))
    if function not in defs:
        note = ""
        if broken:
            names = ", ".join(b[1] or "the code" for b in broken)
            note = f" ({names} {'does' if len(broken) == 1 else 'do'} not parse)"
        raise AssertionError(f"no function named {function!r} in the notebook{note}")
    # The last plain ``def`` is the one in force only if nothing else binds the name: an
    # assignment, a decorator, an import or a ``global`` could put a looping function in its
    # place, and a helper it uses could hold the loop.
    loops = (ast.For, ast.While, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.DictComp,
             ast.GeneratorExp)
    todo, seen = [function], set()
    while todo:
        name = todo.pop()
        seen.add(name)
        rebound = [(label, line) for _position, label, tree in parsed
                   for line in _other_bindings(tree, name)]
        assert not rebound, (f"{name} is bound other than by one plain def "
                             f"({_at(*rebound[0])}); define it once with def")
        _position, label, node = defs[name]
        for inner in ast.walk(node):
            assert not isinstance(inner, loops), (
                f"{function} uses a Python loop ({_at(label, inner.lineno)}"
                + (f", in {name}" if name != function else "")
                + "); use NumPy operations instead")
            if isinstance(inner, ast.Name) and inner.id in defs and inner.id not in seen:
                todo.append(inner.id)


def _parse_cells(source: str) -> tuple[list, list]:
    """The cells of ``source`` parsed one by one (``source.cells``; a plain string is one cell
    without a label): (position, label, tree) of those that parse, and (position, label, line,
    message, code) of those that do not."""
    cells = getattr(source, "cells", None) or ((None, str(source)),)
    parsed, broken = [], []
    for position, (index, code) in enumerate(cells):
        label = None if index is None else cell_label(index, code)
        try:
            parsed.append((position, label, ast.parse(_without_magics(code))))
        except (SyntaxError, ValueError) as exc:  # ValueError: a null byte
            broken.append((position, label, getattr(exc, "lineno", None),
                           getattr(exc, "msg", None) or str(exc), code))
    return parsed, broken


def _at(label: str | None, line: int) -> str:
    return f"{label}, line {line}" if label else f"line {line}"


def _defines(code: str, name: str) -> bool:
    """Whether code that does not parse holds a ``def`` of ``name`` at its top level."""
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(name)}\s*\(", code,
                     re.MULTILINE) is not None


def _without_magics(source: str) -> str:
    """IPython syntax (``%timeit``, ``!ls``) as the plain Python IPython runs; text only."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except (SyntaxError, ValueError):
        return source


def _module_functions(tree: ast.Module) -> dict:
    """The last plain ``def`` of each name directly in the module body."""
    return {node.name: node for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _other_bindings(tree: ast.Module, name: str) -> list[int]:
    """Lines that bind ``name`` in the module other than by an undecorated top-level def."""
    lines = []
    scoped = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    todo = list(tree.body)
    while todo:  # what runs in the module's scope (not inside function or class bodies)
        node = todo.pop()
        if isinstance(node, scoped):
            if node.name == name and (node not in tree.body or node.decorator_list
                                      or isinstance(node, ast.ClassDef)):
                lines.append(node.lineno)
            continue
        stored = isinstance(node, ast.Name) and node.id == name \
            and not isinstance(node.ctx, ast.Load)
        imported = isinstance(node, (ast.Import, ast.ImportFrom)) and any(
            (alias.asname or alias.name.split(".")[0]) == name for alias in node.names)
        if stored or imported:
            lines.append(node.lineno)
        if not isinstance(node, ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))
    for node in ast.walk(tree):  # from anywhere: ``global name``, ``name.__code__ = ...``
        declared = isinstance(node, ast.Global) and name in node.names
        patched = isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load) \
            and isinstance(node.value, ast.Name) and node.value.id == name
        if declared or patched:
            lines.append(node.lineno)
    return sorted(lines)
