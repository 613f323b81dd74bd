"""Assignment 13-perceptron: correct alternatives keep full marks, a do-nothing notebook earns
nothing, and the feedback names what to look at.

The alternatives live in ``graders/alternatives/`` (staff-only, like the graders: never released);
``course check-graders`` runs the reference and the mutants (tests/autograder/test_check_graders.py).
"""

import json

import nbformat
import pytest
from small_courses import REPO

from autograder.check_graders import _versions
from autograder.engine import grade_notebook
from autograder.notebooks import with_cells

FOLDER = REPO / "assignments" / "13-perceptron"
ALTERNATIVES = sorted((FOLDER / "graders" / "alternatives").glob("*.json"))
CLASSES = {  # issue 24's classes of wrong answers, each drawn on by at least one mutant
    "labels": ["predict_zero_one_labels", "epoch_rule_for_zero_one_labels", "xor_zero_one_labels"],
    "update on right": ["epoch_updates_correct_examples"],
    "ties": ["predict_np_sign", "predict_tie_is_negative", "epoch_ties_are_mistakes"],
    "learning rate": ["epoch_ignores_lr", "epoch_bias_without_lr", "train_ignores_lr"],
    "order": ["epoch_shuffles", "xor_other_order"],
    "bias": ["epoch_bias_not_updated"],
    "stopping": ["train_drops_the_clean_epoch", "train_one_epoch_short",
                 "train_one_epoch_too_many", "train_checks_before_the_epoch"],
    "in place": ["epoch_updates_w_in_place"],
    "integers": ["epoch_keeps_integer_dtype"],
    "do nothing": ["do_nothing"],
}


@pytest.fixture(scope="module")
def reference():
    return _versions(nbformat.read(FOLDER / "perceptron.ipynb", as_version=4))[0]


def grade(nb):
    result = grade_notebook(nb, graders=FOLDER / "graders")
    assert result.notebook_error is None, result.notebook_error
    return result


def answer(reference, folder: str, name: str):
    return with_cells(reference, json.loads((FOLDER / folder / f"{name}.json").read_text())["cells"])


def test_every_class_has_mutants_and_each_names_the_cells_it_must_lose():
    mutants = {p.stem: json.loads(p.read_text()) for p in (FOLDER / "mutants").glob("*.json")}
    assert len(mutants) >= 8
    assert {name for names in CLASSES.values() for name in names} == set(mutants)
    for name, spec in mutants.items():
        assert spec["description"] and spec["cells"] and spec["must_fail"], name
    assert len(ALTERNATIVES) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("path", ALTERNATIVES, ids=[p.stem for p in ALTERNATIVES])
def test_a_correct_alternative_keeps_full_marks(reference, path):
    result = grade(answer(reference, "graders/alternatives", path.stem))
    failed = [f"{t.name}: {t.message}" for t in result.tests if t.outcome != "passed"]
    assert not failed and len(result.tests) == 10


@pytest.mark.slow
def test_a_notebook_that_does_nothing_earns_nothing(reference):
    result = grade(answer(reference, "mutants", "do_nothing"))
    assert result.tests and all(t.outcome != "passed" for t in result.tests)


@pytest.mark.slow
@pytest.mark.parametrize(("mutant", "test", "words"), [
    ("epoch_ties_are_mistakes", "test_epoch_from_zero",
     ["after example 1 of the epoch", "you updated on a correctly classified example?",
      "a score of exactly 0 predicts +1"]),
    ("epoch_shuffles", "test_epoch_from_zero", ["in the order [1, 3, 2]", "without shuffling"]),
    ("epoch_ignores_lr", "test_epoch_learning_rate_and_start",
     ["the learning rate lr = 0.5 is not applied?"]),
    ("epoch_updates_w_in_place", "test_epoch_leaves_its_inputs_alone",
     ["changed the caller's w", "not w += ..."]),
    ("train_drops_the_clean_epoch", "test_train_reproduces_the_rule",
     ["should be [2, 2, 2, 0], yours is [2, 2, 2]", "append its 0"]),
    ("predict_np_sign", "test_predict_ties", ["np.sign gives 0 there"]),
])
def test_the_feedback_says_what_to_look_at(reference, mutant, test, words):
    result = grade(answer(reference, "mutants", mutant))
    (failed,) = [t for t in result.tests if t.name == test]
    assert failed.outcome != "passed"
    assert all(word in failed.message for word in words), failed.message
