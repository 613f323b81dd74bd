"""Assignment 15-autoencoder: every mutant is drawn from a class, and the feedback names what to look
at. ``course check-graders`` grades the reference, every mutant and the correct alternatives (in
``alternatives/``, staff-only like the graders): tests/autograder/test_check_graders.py.

Every grading trains Keras models (a quarter of a minute of CPU or more), so the feedback is read
from two notebooks that each carry several mistakes at once, one per function, none of which feeds
another's test.
"""

import json

import pytest
from assignment_parts import AssignmentParts
from small_courses import REPO

from autograder.notebooks import with_cells

FOLDER = REPO / "assignments" / "15-autoencoder"
CLASSES = {  # issue 24's classes of wrong answers, each drawn on by at least one mutant
    "integer images (1)": ["prepare_keeps_integer_dtype"],
    "formulas that agree on friendly inputs (2)": [
        "prepare_divides_by_255", "prepare_divides_by_the_batch_maximum", "noise_not_clipped"],
    "training details (4)": ["train_ignores_batch_size", "train_without_shuffling",
                             "train_seeds_after_building"],
    "a bias under the error threshold (6)": ["train_towards_noisy_targets"],
    "in place (7)": ["prepare_divides_float32_in_place", "noise_added_in_place"],
    "draws and inference (8)": ["noise_from_the_legacy_generator",
                                "model_noise_also_at_inference"],
    "the bottleneck": ["model_encoder_not_shared", "codes_of_unprepared_images"],
    "do nothing (9)": ["do_nothing"],
}

PARTS = AssignmentParts(FOLDER, "autoencoder.ipynb")


def test_every_class_has_mutants_and_each_names_the_cells_it_must_lose():
    PARTS.check_mutant_classes(CLASSES, alternatives=2)



def with_mutants(*names):
    """The reference with the cells of several mutants put in (each in cells of its own)."""
    cells = {}
    for name in names:
        theirs = json.loads((FOLDER / "mutants" / f"{name}.json").read_text())["cells"]
        assert not set(theirs) & set(cells), name
        cells.update(theirs)
    return with_cells(PARTS.reference, cells)


@pytest.mark.slow
@pytest.mark.parametrize(("mutants", "expected"), [
    (["prepare_divides_by_the_batch_maximum", "noise_from_the_legacy_generator",
      "train_towards_noisy_targets", "codes_of_unprepared_images"], {
        "test_prepare_digits": ["faint uint8 digits", "this batch's own maximum",
                                "divide by 16"],
        "test_add_noise_draws": ["np.random.seed(seed) and np.random.normal",
                                 "np.random.default_rng(seed)"],
        "test_training_follows_the_spec": ["the targets are the noisy images"],
        "test_denoising_error_on_held_out_digits": ["mean error", "too bright or too dark"],
        "test_digit_codes": ["unprepared", "prepare_digits"]}),
    (["prepare_keeps_integer_dtype", "noise_added_in_place", "model_noise_also_at_inference"], {
        "test_prepare_digits": ["uint8 digits", "whole numbers", "integer dtype"],
        "test_add_noise_draws": ["changed the caller's X in place"],
        "test_predictions_are_deterministic": ["another output each time", "Lambda"]}),
], ids=["scaling-draws-targets-codes", "integers-in-place-inference"])
def test_the_feedback_says_what_to_look_at(mutants, expected):
    result = PARTS.grade(with_mutants(*mutants))
    messages = {t.name: t.message for t in result.tests if t.outcome != "passed"}
    for test, words in expected.items():
        assert test in messages, f"{test} passed"
        assert all(word in messages[test] for word in words), messages[test]
