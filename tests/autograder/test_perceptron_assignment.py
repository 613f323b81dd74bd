"""Assignment 13-perceptron: every mutant is drawn from a class and the feedback names what to look
at (a do-nothing notebook's 0: tests/autograder/test_grader_classes.py).

``course check-graders`` grades the reference, the mutants and the correct alternatives (in
``alternatives/``, staff-only like the graders: never released):
tests/autograder/test_check_graders.py.
"""


import pytest
from assignment_parts import AssignmentParts
from small_courses import REPO

FOLDER = REPO / "assignments" / "13-perceptron"
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


PARTS = AssignmentParts(FOLDER, "perceptron.ipynb")


def test_every_class_has_mutants_and_each_names_the_cells_it_must_lose():
    PARTS.check_mutant_classes(CLASSES, alternatives=3)



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
def test_the_feedback_says_what_to_look_at(mutant, test, words):
    result = PARTS.grade(PARTS.answer("mutants", mutant))
    (failed,) = [t for t in result.tests if t.name == test]
    assert failed.outcome != "passed"
    assert all(word in failed.message for word in words), failed.message
