"""Assignment 16-introspection: every mutant is drawn from a class, and the feedback names the
formula, the position or the dtype to look at (a few of the mutants; each grading trains a small
TensorFlow model, so they are read from the session's ``course check-graders`` report, which
grades the reference, every mutant and the correct alternatives in ``alternatives/``:
tests/autograder/test_check_graders.py).
"""


import pytest
from assignment_parts import AssignmentParts, shipped_mutant
from small_courses import REPO

FOLDER = REPO / "assignments" / "16-introspection"
CLASSES = {  # issue 24's classes of wrong answers, each drawn on by at least one mutant
    "the probability, not the logit (2)": ["saliency_of_the_softmax_probability",
                                           "occlusion_of_the_softmax_probability"],
    "the wrong class (2)": ["saliency_of_the_predicted_class"],
    "abs and channels (2)": ["saliency_without_abs", "saliency_abs_after_max",
                             "saliency_sum_over_channels", "occlusion_first_channel_only"],
    "an all-zero map (3)": ["saliency_normalized_to_its_maximum"],
    "positions at the border, stride (2)": ["occlusion_misses_the_last_position",
                                            "occlusion_partial_patches_at_the_border",
                                            "occlusion_starts_patches_at_i_times_patch"],
    "fill and sign (2)": ["occlusion_ignores_fill", "occlusion_sign_reversed"],
    "integers (1)": ["saliency_watches_integer_images", "occlusion_keeps_integer_dtype"],
    "in place (7)": ["occlusion_writes_into_the_callers_image"],
    "do nothing (9)": ["do_nothing"],
}


PARTS = AssignmentParts(FOLDER, "introspection.ipynb")


def test_every_class_has_mutants_and_each_names_the_cells_it_must_lose():
    PARTS.check_mutant_classes(CLASSES, alternatives=2)




@pytest.mark.slow
@pytest.mark.parametrize(("mutant", "test", "words"), [
    ("saliency_of_the_softmax_probability", "test_saliency_of_a_linear_model",
     ["label 0", "gradient of the softmax probability", "the logit"]),
    ("saliency_watches_integer_images", "test_saliency_of_integer_images_and_extreme_logits",
     ["uint8 image", "float32 tensor before tape.watch"]),
    ("occlusion_misses_the_last_position", "test_occlusion_positions_up_to_the_border",
     ["shape (2, 3), expected (3, 4)", "the last one included"]),
    ("occlusion_writes_into_the_callers_image",
     "test_occlusion_of_integer_and_float32_images_leaves_them_alone",
     ["changed the caller's image in place", "np.asarray does not copy"]),
])
def test_the_feedback_says_what_to_look_at(shipped_check, mutant, test, words):
    failed = shipped_mutant(shipped_check, FOLDER.name, mutant)["failed"]  # graded once
    assert test in failed, f"{test} passed"
    assert all(word in failed[test] for word in words), failed[test]
