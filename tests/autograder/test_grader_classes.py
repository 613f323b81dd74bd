"""Issue 24's classes of wrong answers in the assignments 01-12: each class has a mutant the
earlier graders let through, the graders now fail it in the test named here, and a notebook whose
every function does nothing earns nothing.

Class 1: integer inputs where the spec allows them (code that keeps an int dtype truncates, wraps
or cannot take a float update). Class 7: arguments changed in place, seen only when the graders
pass them with ``submission.remote`` and read them back. Class 9: points for a property a stub
has (raising for bad shapes, leaving the inputs alone, the identity at test time) only together
with a right result. Class 2: a wrong formula that agrees with the right one on every tested
value (a relative min_delta where every best loss was near 1, a derivative never taken at 0, a
label set always holding the largest class). Class 4: a training loop checked only where the
spec's details do not matter (lr 0, one full batch): now also reproduced exactly on minibatches.
Class 5: leakage through a channel the leakage test left alone (a district only the test rows
have). Class 6: a bias under an error threshold, made to dominate (a series with a strong
trend). Class 8: a random procedure whose generator the spec fixes, replayed draw by draw.
Class 3: the extremes of a function's derivative or other half (saturated LSTM gates, very
negative logits), not only of the function.
``course check-graders`` grades every mutant against the reference once a session
(``shipped_check``, tests/autograder/conftest.py); these tests read what its report says each
mutant failed, and with which message.
"""

import ast
import json

import nbformat
import pytest
from assignment_parts import shipped_mutant
from small_courses import REPO

from autograder.notebooks import solution_code

ASSIGNMENTS = REPO / "assignments"
# (assignment, mutant) -> (issue class, the grader tests it must fail, words the feedback holds)
MUTANTS = {
    ("01-numpy", "matmul_loops_keeps_int_dtype"):
        (1, ["test_matmul_loops_matches_numpy"], "must not be rounded"),
    ("01-numpy", "pairwise_keeps_uint8"): (1, ["test_pairwise_matches_definition"], "uint8"),
    ("01-numpy", "matmul_loops_only_checks_shapes"):
        (9, ["test_matmul_loops_matches_numpy", "test_matmul_loops_rejects_bad_shapes",
             "test_matmul_loops_uses_loops"], "matmul_loops"),
    ("02-linreg", "fit_weights_like_X"): (1, ["test_fit_first_steps_follow_lr_and_epochs"], ""),
    ("02-linreg", "rms_loss_in_place"): (7, ["test_rms_loss"], "must not change"),
    ("03-autodiff", "neuron_dw_keeps_int_dtype"): (1, ["test_neuron_gradients"], "integer w"),
    ("03-autodiff", "neuron_dw_overwrites_w"): (7, ["test_neuron_gradients"], "must not change"),
    ("04-logreg", "sigmoid_masks_keep_int_dtype"): (1, ["test_sigmoid_values"], "integers"),
    ("04-logreg", "challenger_standardizes_in_place"):
        (7, ["test_challenger_coefficients"], "must not change"),
    ("05-softmax", "softmax_copy_keeps_int_dtype"): (1, ["test_softmax_values"], "integer logits"),
    ("05-softmax", "softmax_shifts_in_place"): (7, ["test_softmax_values"], "must not change"),
    ("06-mlp", "numerical_gradient_copy_keeps_int_dtype"):
        (1, ["test_numerical_gradient"], "integer array"),
    ("06-mlp", "relu_in_place"): (7, ["test_activations"], "must not change"),
    ("07-optimizers", "adam_state_in_place_keeps_int_dtype"):
        (1, ["test_adam_steps"], "dtype('int64')"),
    ("07-optimizers", "momentum_velocity_in_place_keeps_int_dtype"):
        (1, ["test_momentum_steps"], "dtype('int64')"),
    ("07-optimizers", "sgd_updates_w_in_place"): (7, ["test_sgd_steps"], "do not modify w in place"),
    ("08-regularization", "dropout_scales_a_copy_in_place"):
        (1, ["test_dropout_drops_a_fraction_p_and_scales"], "dtype('int64')"),
    ("08-regularization", "batchnorm_centers_a_copy_in_place"):
        (1, ["test_batchnorm_train_output"], "dtype('int64')"),
    ("08-regularization", "batchnorm_running_averages_in_place"):
        (7, ["test_batchnorm_leaves_the_callers_arrays_unchanged"], "change no array in place"),
    ("08-regularization", "early_stopping_relative_min_delta"):
        (2, ["test_early_stopping_min_delta_and_ties"], "min_delta=0.5"),
    ("03-autodiff", "pow_grad_from_output"): (2, ["test_pow"], "ZeroDivisionError"),
    ("05-softmax", "one_hot_width_from_labels"):
        (2, ["test_one_hot_and_cross_entropy"], "no label is 2 or 3"),
    ("06-mlp", "train_shuffles_once"):
        (4, ["test_train_follows_its_hyperparameters"], "in every epoch"),
    ("06-mlp", "train_drops_last_short_batch"):
        (4, ["test_train_follows_its_hyperparameters"], "the last batch of each epoch has 2"),
    # the Keras assignments 09-12
    ("09-keras-tabular", "transform_numeric_block_keeps_int_dtype"):
        (1, ["test_transform_imputes_and_standardizes_with_training_statistics"], "int64"),
    ("09-keras-tabular", "fit_fills_df_in_place"):
        (7, ["test_fit_preprocessing_on_other_data"], "must not modify df"),
    ("09-keras-tabular", "categories_from_test_rows"):
        (5, ["test_prediction_does_not_depend_on_other_test_rows"], "categories on train_df only"),
    ("09-keras-tabular", "constant_prediction"):
        (9, ["test_predictions_beat_the_median",
             "test_prediction_does_not_depend_on_other_test_rows",
             "test_held_out_error_threshold"], "RMSE"),
    ("10-cnn", "conv_forward_out_like_x"): (1, ["test_conv_forward_matches_definition"], "integer"),
    ("10-cnn", "conv_backward_grads_like_inputs"):
        (1, ["test_conv_backward_dx", "test_conv_backward_dw"], "int64"),
    ("10-cnn", "prepare_divides_by_batch_max"):
        (2, ["test_prepare_images_and_architecture"], "not by the batch's maximum"),
    ("10-cnn", "prepare_min_max_of_batch"):
        (2, ["test_prepare_images_and_architecture"], "not by the batch's maximum"),
    ("10-cnn", "prepare_scales_in_place"):
        (7, ["test_prepare_images_and_architecture"], "must not change"),
    ("11-lstm-timeseries", "backward_adds_into_callers_dh"):
        (7, ["test_sequence_backward"], "must not change"),
    ("11-lstm-timeseries", "forecast_forgets_mean"):
        (6, ["test_forecast_uses_only_the_past_and_training_statistics"], "z * std + mean"),
    ("11-lstm-timeseries", "forecast_adds_mean_twice"):
        (6, ["test_forecast_uses_only_the_past_and_training_statistics"], "z * std + mean"),
    ("11-lstm-timeseries", "forecast_same_as_last_month"):
        (9, ["test_forecast_uses_only_the_past_and_training_statistics", "test_forecast_accuracy"],
         "ppm"),
    ("11-lstm-timeseries", "forward_h_like_x"): (1, ["test_sequence_forward"], "integer x"),
    ("11-lstm-timeseries", "backward_sigmoid_derivative_from_exp"):
        (3, ["test_step_backward_saturated_gates"], "saturated gates"),
    ("12-char-lstm", "temperature_divides_logits_in_place"):
        (7, ["test_apply_temperature"], "must not change"),
    ("12-char-lstm", "temperature_keeps_int_dtype"):
        (1, ["test_apply_temperature"], "integer logits"),
    ("12-char-lstm", "temperature_shifts_only_positive_logits"):
        (3, ["test_apply_temperature"], "very negative logits"),
    ("12-char-lstm", "train_batch_32"):
        (4, ["test_train_char_model_uses_its_arguments"], "batches of 64"),
    ("12-char-lstm", "sample_global_numpy_rng"):
        (8, ["test_sample_text_shape_and_seed"], "rng.choice(len(vocab)"),
    ("12-char-lstm", "sample_multinomial"):
        (8, ["test_sample_text_shape_and_seed"], "rng.choice(len(vocab)"),
    ("12-char-lstm", "sample_untempered_unless_near_zero"):
        (8, ["test_sample_text_shape_and_seed"], "temperature=0.7"),
    ("12-char-lstm", "sample_temperature_twice"):
        (2, ["test_sample_text_shape_and_seed"], "temperature=0.7"),
}
NUMPY_ASSIGNMENTS = ["01-numpy", "02-linreg", "03-autodiff", "04-logreg", "05-softmax", "06-mlp",
                     "07-optimizers", "08-regularization"]
KERAS_ASSIGNMENTS = ["09-keras-tabular", "10-cnn", "11-lstm-timeseries", "12-char-lstm"]
NEW_ASSIGNMENTS = ["13-perceptron", "14-vanishing-gradients", "15-autoencoder", "16-introspection"]
EVERY_ASSIGNMENT = NUMPY_ASSIGNMENTS + KERAS_ASSIGNMENTS + NEW_ASSIGNMENTS


def folder(assignment):
    return ASSIGNMENTS / assignment


def source(assignment):
    (path,) = folder(assignment).glob("*.ipynb")
    return nbformat.read(path, as_version=4)


def mutant(assignment, name):
    return json.loads((folder(assignment) / "mutants" / f"{name}.json").read_text())


def functions(code):
    return [node.name for node in ast.parse(code).body if isinstance(node, ast.FunctionDef)]


def test_each_class_has_a_mutant_in_each_assignment_it_applies_to():
    classes = {}
    for (assignment, name), (cls, tests, _words) in MUTANTS.items():
        spec = mutant(assignment, name)
        assert spec["description"] and spec["cells"] and spec["must_fail"], name
        assert tests
        classes.setdefault(cls, set()).add(assignment)
    assert classes[1] == set(NUMPY_ASSIGNMENTS + KERAS_ASSIGNMENTS)
    assert classes[7] == set(NUMPY_ASSIGNMENTS + KERAS_ASSIGNMENTS) - {"01-numpy"}
    assert {"09-keras-tabular"} <= classes[5] and {"11-lstm-timeseries"} <= classes[6]
    assert {"12-char-lstm"} <= classes[8]


@pytest.mark.parametrize("assignment", NUMPY_ASSIGNMENTS + KERAS_ASSIGNMENTS)
def test_do_nothing_replaces_every_solution_cell_keeping_its_names(assignment):
    spec = mutant(assignment, "do_nothing")
    solutions = {cell.metadata["nbgrader"]["grade_id"]: solution_code(cell)
                 for cell in source(assignment).cells
                 if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}
    assert set(spec["cells"]) == set(solutions)
    graded = {cell.metadata["nbgrader"]["grade_id"] for cell in source(assignment).cells
              if cell.metadata.get("nbgrader", {}).get("grade")}
    assert set(spec["must_fail"]) == graded
    for cell, code in spec["cells"].items():
        assert functions(code) == functions(solutions[cell]), cell
        for node in ast.parse(code).body:  # one statement after the docstring: a return
            body = [s for s in node.body if not (isinstance(s, ast.Expr)
                                                 and isinstance(s.value, ast.Constant))]
            assert len(body) == 1 and isinstance(body[0], ast.Return), (cell, node.name)


@pytest.mark.slow
@pytest.mark.parametrize(("assignment", "name"), list(MUTANTS), ids=[n for _, n in MUTANTS])
def test_the_graders_fail_each_class_mutant_where_it_goes_wrong(shipped_check, assignment, name):
    _cls, tests, words = MUTANTS[assignment, name]
    graded = shipped_mutant(shipped_check, assignment, name)  # graded once, by check-graders
    assert graded["notebook_error"] is None, graded["notebook_error"]
    failed = graded["failed"]
    assert set(tests) <= set(failed), (tests, failed)
    assert all(words in failed[test] for test in tests), failed
    assert graded["score"] < shipped_check["by_id"][assignment]["max_score"]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", EVERY_ASSIGNMENT)
def test_a_notebook_that_does_nothing_earns_nothing(shipped_check, assignment):
    graded = shipped_mutant(shipped_check, assignment, "do_nothing")
    assert graded["notebook_error"] is None, graded["notebook_error"]
    assert graded["failed"] and graded["score"] == 0
    assert graded["passed"] == [], graded["passed"]
