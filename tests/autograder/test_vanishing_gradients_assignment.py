"""Assignment 14-vanishing-gradients: every mutant is drawn from a class, and the feedback names the
layer, the gradient or the formula to look at. ``course check-graders`` grades the reference, every
mutant and the correct alternatives (in ``alternatives/``, staff-only like the graders):
tests/autograder/test_check_graders.py.
"""


import pytest
from assignment_parts import AssignmentParts
from small_courses import REPO

FOLDER = REPO / "assignments" / "14-vanishing-gradients"
CLASSES = {  # issue 24's classes of wrong answers, each drawn on by at least one mutant
    "sigmoid' as sigmoid": ["sigmoid_grad_returns_sigmoid"],
    "sigmoid' as x(1-x) on pre-activations": ["sigmoid_grad_as_activation_formula",
                                              "backward_derivative_at_the_activation"],
    "relu'(0)": ["relu_grad_one_at_zero"],
    "identity path missing": ["residual_backward_without_identity"],
    "Xavier/He scale": ["init_xavier_he_swapped", "init_he_uses_fan_out", "init_xavier_is_lecun"],
    "accumulated across calls": ["backward_accumulates_across_calls"],
    "in place": ["relu_in_place", "residual_forward_in_place", "residual_backward_adds_into_dY"],
    "integers": ["sigmoid_masks_keep_integer_dtype"],
    "the spec's details": ["norms_in_backward_order", "loss_summed_not_averaged",
                           "measure_weights_from_the_same_seed"],
    "do nothing": ["do_nothing"],
}


PARTS = AssignmentParts(FOLDER, "vanishing_gradients.ipynb")


def test_every_class_has_mutants_and_each_names_the_cells_it_must_lose():
    PARTS.check_mutant_classes(CLASSES, alternatives=2)




@pytest.mark.slow
@pytest.mark.parametrize(("mutant", "test", "words"), [
    ("sigmoid_grad_as_activation_formula", "test_sigmoid_and_its_derivative",
     ["sigmoid_grad", "takes the pre-activation Z"]),
    ("relu_grad_one_at_zero", "test_backward_at_relu_kinks_with_integer_inputs",
     ["dWs[1] (layer 2 of 3, the layers after it agree)", "relu'(0) = 0"]),
    ("backward_derivative_at_the_activation", "test_backward_gradient_check",
     ["dW2 (layer 2 of 3)", "the layers after it agree", "act' at the pre-activation Z"]),
    ("init_he_uses_fan_out", "test_init_weights",
     ["W1 (fan_in 5, fan_out 12)", "= sqrt(2 / fan_out)"]),
    ("backward_accumulates_across_calls", "test_backward_at_relu_kinks_with_integer_inputs",
     ["called a second time", "add up across calls"]),
    ("norms_in_backward_order", "test_deep_norms_on_the_graders_weights",
     ["reverse order: the first layer's norm comes first"]),
    ("residual_backward_without_identity", "test_residual_block_gradient_check",
     ["dX of a residual block", "the identity path is missing"]),
    ("residual_backward_adds_into_dY", "test_residual_block_inputs_left_alone",
     ["changed the caller's dY in place"]),
    ("measure_weights_from_the_same_seed", "test_the_gradient_reaches_the_first_block",
     ["the spec draws them with seed + 1"]),
])
def test_the_feedback_says_what_to_look_at(mutant, test, words):
    result = PARTS.grade(PARTS.answer("mutants", mutant))
    (failed,) = [t for t in result.tests if t.name == test]
    assert failed.outcome != "passed"
    assert all(word in failed.message for word in words), failed.message
