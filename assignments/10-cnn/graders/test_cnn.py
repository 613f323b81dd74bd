"""Hidden graders for assignment 10-cnn (never shown to students).

Backward passes are gradient-checked against finite differences of this file's own forward
passes, so a wrong forward does not cost points in the backward cells (and vice versa).
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from autograder.checks import assert_close, assert_shape, gradient_check, passes_for_seeds

# (N, C, H, W), (F, KH, KW), stride, pad: non-square images and kernels catch swapped axes
CONV_CASES = [((2, 3, 5, 5), (4, 3, 3), 1, 0),
              ((2, 2, 7, 6), (3, 3, 2), 2, 1),
              ((1, 3, 6, 5), (2, 2, 3), 1, 2),
              ((3, 1, 9, 8), (2, 3, 3), 3, 1)]
POOL_CASES = [((2, 3, 6, 6), 2, 2), ((1, 2, 7, 5), 3, 1), ((2, 1, 7, 7), 3, 2),
              ((1, 2, 5, 6), 2, 1)]
# (the pooling backward is given in the notebook: no grader)


def conv_reference(x, w, b, stride, pad):
    F, _, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out = (xp.shape[2] - KH) // stride + 1
    W_out = (xp.shape[3] - KW) // stride + 1
    out = np.empty((x.shape[0], F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = xp[:, :, i * stride:i * stride + KH, j * stride:j * stride + KW]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", window, w) + b
    return out


def pool_reference(x, size, stride):
    H_out, W_out = (x.shape[2] - size) // stride + 1, (x.shape[3] - size) // stride + 1
    out = np.empty(x.shape[:2] + (H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size,
                                j * stride:j * stride + size].max(axis=(2, 3))
    return out


def conv_case(index, seed):
    (N, C, H, W), (F, KH, KW), stride, pad = CONV_CASES[index]
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(N, C, H, W)), rng.normal(size=(F, C, KH, KW)), rng.normal(size=F),
            stride, pad)


def describe(x, w, stride, pad):
    return f"x {x.shape}, w {w.shape}, stride {stride}, pad {pad}"


@pytest.mark.cell("test_conv_forward")
@pytest.mark.points(2)
def test_conv_forward_matches_definition(submission):
    for index in range(len(CONV_CASES)):
        x, w, b, stride, pad = conv_case(index, 100 + index)
        expected = conv_reference(x, w, b, stride, pad)
        out = submission.conv2d_forward(x, w, b, stride, pad)
        assert_close(out, expected, rtol=1e-7, atol=1e-9,
                     what=f"conv2d_forward for {describe(x, w, stride, pad)}")
    # integer images (pixel values 0..16, as load_digits gives them) with real-valued filters
    rng = np.random.default_rng(150)
    x, w, b = (rng.integers(0, 17, size=(2, 1, 8, 8)), rng.normal(size=(3, 1, 3, 3)),
               rng.normal(size=3))
    assert_close(submission.conv2d_forward(x, w, b, 1, 1), conv_reference(x, w, b, 1, 1),
                 rtol=1e-7, atol=1e-9,
                 what=f"conv2d_forward for integer images x {x.shape} (int64) and float filters "
                      f"w {w.shape}, stride 1, pad 1 (the output is float whatever x's dtype)")


def check_conv_backward(submission, index: int, which: int) -> None:
    """Gradient-check output ``which`` (0: dx, 1: dw, 2: db) of conv2d_backward on case index,
    for the loss L = sum(out * dout) with a random dout."""
    params = list(conv_case(index, 200 + 10 * which + index))
    stride, pad = params[3], params[4]
    dout = np.random.default_rng(300 + 10 * which + index).normal(
        size=conv_reference(*params).shape)

    def with_value(v):
        return [v if k == which else p for k, p in enumerate(params[:3])]

    name = ["dx", "dw", "db"][which]
    gradient_check(lambda v: np.sum(conv_reference(*with_value(v), stride, pad) * dout),
                   lambda v: submission.conv2d_backward(dout, *with_value(v), stride, pad)[which],
                   params[which], tol=1e-6,
                   what=f"{name} of conv2d_backward for {describe(*params[:2], stride, pad)}")


def check_conv_backward_integers(submission, which: int) -> None:
    """Output ``which`` of conv2d_backward for integer images and integer filters (an edge
    detector on pixel values) and a real-valued dout: the gradients are float whatever the
    inputs' dtypes."""
    rng = np.random.default_rng(350 + which)
    x, w, b = (rng.integers(0, 17, size=(2, 2, 6, 5)), rng.integers(-2, 3, size=(3, 2, 3, 2)),
               rng.normal(size=3))
    dout = rng.normal(size=conv_reference(x, w, b, 2, 1).shape)
    params = [x, w, b]

    def with_value(v):
        return [v if k == which else p for k, p in enumerate(params)]

    name = ["dx", "dw"][which]
    gradient_check(lambda v: np.sum(conv_reference(*with_value(v), 2, 1) * dout),
                   lambda _v: submission.conv2d_backward(dout, x, w, b, 2, 1)[which],
                   params[which], tol=1e-6,
                   what=f"{name} of conv2d_backward for integer x {x.shape} and w {w.shape} "
                        "(int64; dout is float: the gradients must be float arrays)")


@pytest.mark.cell("test_conv_backward")
@pytest.mark.points(1)
def test_conv_backward_dx(submission):
    for index in range(len(CONV_CASES)):
        check_conv_backward(submission, index, 0)
    check_conv_backward_integers(submission, 0)


@pytest.mark.cell("test_conv_backward")
@pytest.mark.points(1)
def test_conv_backward_dw(submission):
    for index in range(len(CONV_CASES)):
        check_conv_backward(submission, index, 1)
    check_conv_backward_integers(submission, 1)


@pytest.mark.cell("test_conv_backward")
@pytest.mark.points(1)
def test_conv_backward_db(submission):
    for index in range(len(CONV_CASES)):
        check_conv_backward(submission, index, 2)


@pytest.mark.cell("test_pool_forward")
@pytest.mark.points(1)
def test_pool_forward_matches_definition(submission):
    rng = np.random.default_rng(800)
    for shape, size, stride in POOL_CASES:
        x = rng.normal(size=shape)
        assert_close(submission.maxpool_forward(x, size, stride), pool_reference(x, size, stride),
                     what=f"maxpool_forward for x {shape}, size {size}, stride {stride}")
    # the extremes the backward used to be tested on: integers, ties, whole windows of zeros (as
    # after a ReLU) and windows of negative values only
    for shape, size, stride in POOL_CASES:
        x = rng.integers(-3, 3, size=shape)
        x[:, :, :size, :] = 0
        assert_close(submission.maxpool_forward(x, size, stride), pool_reference(x, size, stride),
                     what=f"maxpool_forward for integer x {shape} (values -3..2, ties, windows of "
                          f"zeros or of negative values only), size {size}, stride {stride}")


# --- the Keras part ----------------------------------------------------------------------------

DIGITS = load_digits()
IMAGES_TRAIN, IMAGES_TEST, LABELS_TRAIN, LABELS_TEST = train_test_split(
    DIGITS.images, DIGITS.target, test_size=0.25, random_state=2026, stratify=DIGITS.target)
ACCURACY = 0.94  # the reference gets about 0.97
SEEDS, NEED = (21, 22, 23), 2


def prepared(images):
    return (images / 16.0).astype(np.float32)[..., None]


@pytest.mark.cell("test_build_cnn")
@pytest.mark.points(1)
def test_prepare_images_and_architecture(submission):
    images = IMAGES_TEST[:50]
    remote_images = submission.remote(images)  # the caller's array, read back below
    X = submission.prepare_images(remote_images)
    assert isinstance(X, np.ndarray) and X.dtype == np.float32, (
        f"prepare_images must return a float32 array, got {getattr(X, 'dtype', type(X))}")
    assert_shape(X, (50, 8, 8, 1), "prepare_images")
    assert_close(X, prepared(images), rtol=1e-6, what="prepare_images (pixel values / 16)")
    assert_close(submission.fetch(remote_images), images,
                 what="the images after prepare_images (must not change: divide a copy)")
    # the scale is fixed (16), not the batch's: batches without a 0 or a 16 pixel, integers
    for batch, which in [(np.clip(IMAGES_TEST[50:60], 3, 12), "pixel values 3..12"),
                         (IMAGES_TEST[60:63].astype(np.int64), "int64 pixel values"),
                         (IMAGES_TEST[63:64] // 2, "one image, pixel values 0..8")]:
        assert_close(submission.prepare_images(batch), prepared(batch), rtol=1e-6,
                     what=f"prepare_images for {len(batch)} images with {which} (always divide "
                          "by 16, the largest possible pixel value, not by the batch's maximum)")
    submission.seed(1)
    model = submission.build_cnn()
    layers = [layer["class_name"] for layer in model.get_config()["layers"]]
    for needed in ["Conv2D", "MaxPooling2D"]:
        assert needed in layers, f"build_cnn: the model has no {needed} layer (layers: {layers})"
    logits = np.asarray(model.predict(prepared(images), verbose=0), dtype=np.float64)
    assert_shape(logits, (50, 10), "build_cnn().predict for 50 images")
    # logits in, logits to the loss: the model's loss is the cross-entropy of softmax(outputs)
    labels = LABELS_TEST[:50]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = -float(np.mean(log_p[np.arange(50), labels]))
    loss = float(model.evaluate(prepared(images), labels, verbose=0, return_dict=True)["loss"])
    assert abs(loss - expected) <= 1e-4 * max(1.0, abs(expected)), (
        f"build_cnn: the compiled loss on 50 images is {loss:.5f}, but the cross-entropy of "
        f"softmax(model outputs) is {expected:.5f}: the model must return logits (Dense(10) "
        "without activation) and the loss take them (SparseCategoricalCrossentropy("
        "from_logits=True))")


def held_out_accuracy(submission, seed: int) -> float:
    """Train with this seed on the graders' training split; accuracy on their test split."""
    submission.seed(seed)
    model = submission.train_cnn(prepared(IMAGES_TRAIN), LABELS_TRAIN)
    logits = np.asarray(model.predict(prepared(IMAGES_TEST), verbose=0))
    assert_shape(logits, (len(IMAGES_TEST), 10), "the trained model's predictions")
    return float(np.mean(logits.argmax(axis=1) == LABELS_TEST))


@pytest.mark.cell("test_train_cnn")
@pytest.mark.points(2)
def test_cnn_test_accuracy(submission):
    results = []

    def trial(seed):
        results.append(held_out_accuracy(submission, seed))
        return results[-1] >= ACCURACY

    try:
        passes_for_seeds(trial, SEEDS, need=NEED,
                         what=f"train_cnn: test accuracy of at least {ACCURACY:.2f}")
    except AssertionError as exc:
        shown = ", ".join(f"{r:.3f}" for r in results)
        raise AssertionError(f"{exc} (test accuracy per seed: {shown})") from None


# --- where convolutions pay off ------------------------------------------------------------------

def shift_reference(images, dy, dx):
    out = np.zeros(images.shape)
    H, W = images.shape[1:3]
    for i, j in np.ndindex(H, W):
        if 0 <= i - dy < H and 0 <= j - dx < W:
            out[:, i, j] = images[:, i - dy, j - dx]
    return out


@pytest.mark.cell("test_shift_images")
@pytest.mark.points(0.5)
def test_shift_images(submission):
    rng = np.random.default_rng(1000)
    images = rng.integers(1, 17, size=(3, 5, 7))  # no zero pixel: every wrapped value shows
    remote_images = submission.remote(images)
    for dy, dx in [(2, 0), (0, 3), (-1, 2), (1, -2), (-2, -3), (0, 0), (5, 0), (0, -7)]:
        assert_close(np.asarray(submission.shift_images(remote_images, dy, dx), dtype=float),
                     shift_reference(images, dy, dx),
                     what=f"shift_images of 3 images 5x7 (rows x columns) by dy={dy} (down), "
                          f"dx={dx} (right); pixels moved in are 0, nothing wraps around")
    assert_close(submission.fetch(remote_images), images,
                 what="the images after shift_images (must not change: fill a new array)")


@pytest.mark.cell("test_shift_images")
@pytest.mark.points(0.5)
def test_parameter_counts(submission):
    for C, F, KH, KW in [(1, 32, 3, 3), (3, 4, 5, 2), (16, 8, 1, 1), (2, 1, 3, 4)]:
        got = submission.conv2d_parameters(C, F, KH, KW)
        assert got == F * C * KH * KW + F, (
            f"conv2d_parameters(C={C}, F={F}, KH={KH}, KW={KW}) is {got}, expected "
            f"{F * C * KH * KW + F} (each filter spans all C channels, plus one bias per filter)")
    for n_in, n_out in [(64, 2048), (10, 1), (1, 7), (300, 40)]:
        got = submission.dense_parameters(n_in, n_out)
        assert got == n_in * n_out + n_out, (
            f"dense_parameters({n_in}, {n_out}) is {got}, expected {n_in * n_out + n_out} "
            "(one weight per input and unit, plus one bias per unit)")
