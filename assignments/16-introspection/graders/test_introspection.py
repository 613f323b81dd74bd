"""Hidden graders for assignment 16-introspection (never shown to students).

Every model is built in the notebook's process by its given ``dense_model`` (Flatten, Dense
layers with ReLU between them, logits out) from weights drawn here, or is the notebook's trained
``detector`` (the same architecture; its weights are read back). The reference maps are therefore
computed here with NumPy in closed form: the gradient of a dense ReLU network's logit is
W1 diag(relu'(z1)) W2 ... w_label, and an occluded image is one more forward pass. TensorFlow
computes in float32, so maps are compared to a tolerance relative to the scale of the logits.

The inputs are chosen where plausible wrong formulas differ from the spec: three channels of
mixed signs (no abs, |max|, sum or mean over channels), a label other than the predicted class,
logits large enough to saturate the softmax, an image at which every ReLU unit is off (an
all-zero map: normalising it gives NaN), uint8 images with a fill value that is not an integer,
float32 images placed in the notebook's process (a float32 image is not copied by
``np.asarray(image, dtype=np.float32)``), sizes where the last patch ends at the border or
(H - patch) is not a multiple of the stride, and non-square images.
"""

import itertools

import numpy as np
import pytest

from autograder.client import StudentError

# --- the spec, as the notebook states it ---------------------------------------------------------

SIZE = 12
IN_REGION = np.zeros((SIZE, SIZE), dtype=bool)
IN_REGION[3:7, 6:10] = True  # the notebook's REGION: only these pixels decide the class


def floats(image):
    """Convention 2: the image's values as float32 (then float64 for the reference's sums)."""
    return np.asarray(image, dtype=np.float32).astype(float)


def forward(params, images):
    """(logits (N, K), pre-activations of the hidden layers) of a dense ReLU network."""
    A = floats(images).reshape(len(images), -1)
    hidden = []
    for number, (W, b) in enumerate(params, start=1):
        Z = A @ W.astype(float) + b.astype(float)
        if number < len(params):
            hidden.append(Z)
            A = np.maximum(Z, 0.0)
        else:
            A = Z
    return A, hidden


def input_gradients(params, image):
    """(K, H, W, C): the gradient of every logit with respect to the image."""
    _, hidden = forward(params, np.asarray(image)[None])
    G = params[-1][0].astype(float).T  # (K, fan_in of the last layer)
    for number in range(len(params) - 2, -1, -1):
        G = (G * (hidden[number][0] > 0)) @ params[number][0].astype(float).T
    return G.reshape(-1, *np.shape(image))


def saliency(params, image, label):
    return np.abs(input_gradients(params, image)[label]).max(axis=-1)


def positions(shape, patch, stride):
    rows, cols = (shape[0] - patch) // stride + 1, (shape[1] - patch) // stride + 1
    return [(i, j) for i in range(rows) for j in range(cols)], (rows, cols)


def occluded(image, patch, stride, fill, places, *, channels=slice(None), step=None):
    """The occluded images, one per position; ``step``: where patches start (default stride)."""
    x = floats(image)
    out = np.repeat(x[None], len(places), axis=0)
    step = stride if step is None else step
    for n, (i, j) in enumerate(places):
        out[n, i * step:i * step + patch, j * step:j * step + patch, channels] = fill
    return out


def drops_of(params, image, label, patch, stride, fill, score=None, **how):
    places, shape = positions(np.shape(image), patch, stride)
    score = score or (lambda logits: logits[:, label])
    base = score(forward(params, np.asarray(image)[None])[0])[0]
    return (base - score(forward(params, occluded(image, patch, stride, fill, places,
                                                  **how))[0])).reshape(shape)


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --- the graders' models ------------------------------------------------------------------------

def draw_params(seed, sizes, bias=0.3):
    rng = np.random.default_rng(seed)
    return [(rng.normal(0.0, 1.0 / np.sqrt(a), size=(a, b)).astype(np.float32),
             rng.normal(0.0, bias, size=b).astype(np.float32)) for a, b in itertools.pairwise(sizes)]


def build(submission, params, input_shape):
    """The model in the notebook's process, checked against the reference's logits."""
    model = submission.dense_model([W for W, _ in params], [b for _, b in params],
                                   tuple(input_shape))
    probe = np.random.default_rng(1600).uniform(0, 1, size=(2, *input_shape)).astype(np.float32)
    got = np.asarray(model.predict(probe, verbose=0), dtype=float)
    expected = forward(params, probe)[0]
    assert got.shape == expected.shape and np.allclose(got, expected, rtol=1e-4, atol=1e-4), (
        "the given dense_model does not build the model it describes: was the given setup cell "
        "changed? Restore it")
    return model


def detector_params(submission):
    weights = submission.detector.get_weights()
    shapes = [np.shape(w) for w in weights] if isinstance(weights, list) else None
    assert shapes == [(144, 16), (16,), (16, 2), (2,)], (
        f"the notebook's detector should have weights of shapes (144, 16), (16,), (16, 2), (2,); "
        f"got {shapes}: was the given detector cell changed? Restore it")
    return [(np.asarray(weights[0]), np.asarray(weights[1])),
            (np.asarray(weights[2]), np.asarray(weights[3]))]


def detector_images(n, seed):
    """Images like the notebook's make_images, of class 1 (REGION brightened)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.5, size=(n, SIZE, SIZE, 1)).astype(np.float32)
    for image in images:
        while True:
            r, c = rng.integers(0, SIZE - 3, size=2)
            if not IN_REGION[r:r + 4, c:c + 4].any():
                break
        image[r:r + 4, c:c + 4] += 0.5
    images[:, 3:7, 6:10] += 0.5
    return images


# --- how results are compared and explained ------------------------------------------------------

def as_map(value, shape, call, shape_hint=""):
    assert isinstance(value, np.ndarray), (
        f"{call} returned {type(value).__name__}, not a NumPy array: return tensor.numpy() "
        "(convention 3)" if type(value).__name__ == "RemoteObject" else
        f"{call} returned {type(value).__name__}, not a NumPy array (convention 3)")
    assert value.shape == tuple(shape), (f"{call} has shape {value.shape}, expected "
                                         f"{tuple(shape)}{shape_hint}")
    assert value.dtype.kind == "f", f"{call} has dtype {value.dtype}: return a float array"
    assert np.all(np.isfinite(value)), (
        f"{call} contains NaN or infinity (a map divided by its maximum, which is 0 here? "
        "Return the raw values)")
    return value.astype(float)


def fmt(values) -> str:
    values = np.asarray(values, dtype=float).ravel()
    shown = ", ".join(f"{v:.4g}" for v in values[:6])
    return f"[{shown}{', ...' if values.size > 6 else ''}] (largest {values.max():.4g})"


def close(got, expected, scale):
    return np.allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)


def check_map(got, expected, call, scale, departures=()):
    """``departures``: (map, hint) pairs of known wrong formulas, tried when ``got`` is wrong."""
    if close(got, expected, scale):
        return
    if close(got, np.zeros_like(got), scale):
        saturated = any("softmax" in hint and close(other, np.zeros_like(got), scale)
                        for other, hint in departures)
        raise AssertionError(
            f"{call} should be {fmt(expected)}, yours is 0 everywhere" + (
                " (the softmax saturates on this image: a probability's gradient or drop would be "
                "0 too; the score is the logit, convention 1)" if saturated else ""))
    hints = [hint for other, hint in departures if other.shape == got.shape
             and not close(other, expected, scale) and close(got, other, scale)]
    worst = np.unravel_index(np.argmax(np.abs(got - expected)), expected.shape)
    raise AssertionError(
        f"{call}: at {tuple(int(i) for i in worst)} it should be {expected[worst]:.6g}, yours is "
        f"{got[worst]:.6g}" + (f": {hints[0]}" if hints else ""))


def logit_scale(params, *images):
    return 1.0 + float(np.max(np.abs(forward(params, np.stack([floats(x) for x in images]))[0])))


def check_unchanged(submission, placed, original, call):
    after = submission.fetch(placed)
    assert isinstance(after, np.ndarray) and after.dtype == original.dtype and np.array_equal(
        after, original), (f"{call} changed the caller's image in place: work on a new array "
                           "(np.array(image, dtype=np.float32) copies; np.asarray does not copy "
                           "an image that is float32 already), convention 3")


# --- saliency -----------------------------------------------------------------------------------

def saliency_departures(params, image, label):
    G = input_gradients(params, image)
    g = G[label]
    logits = forward(params, np.asarray(image)[None])[0][0]
    p = softmax(logits[None])[0]
    prob = p[label] * (g - np.tensordot(p, G, axes=1))
    predicted = int(np.argmax(logits))
    ref = np.abs(g).max(axis=-1)
    return [
        (g.max(axis=-1), ("that is the maximum of the signed gradient: take the absolute value "
                         "first, then the maximum over the channels")),
        (np.abs(g.max(axis=-1)), ("that is |max over channels|: take the maximum of the absolute "
                                 "values, max_c |gradient|")),
        (np.abs(g).sum(axis=-1), "that is the sum over the channels: take their maximum"),
        (np.abs(g).mean(axis=-1), "that is the mean over the channels: take their maximum"),
        (np.abs(G[predicted]).max(axis=-1),
         f"that is the map of the predicted class {predicted}: use the given label {label}"),
        (np.abs(prob).max(axis=-1), ("that is the gradient of the softmax probability: the score "
                                    "is the logit (convention 1)")),
        (ref / ref.max() if ref.max() > 0 else ref,
         "that is the map divided by its maximum: return the raw values"),
    ]


def check_saliency(submission, model, params, image, label, what, *, placed=None):
    call = f"saliency_map on {what}, label {label}"
    got = as_map(submission.saliency_map(model, image if placed is None else placed, label),
                 np.shape(image)[:2], call, " (H, W): one value per pixel, the maximum over the "
                                            "channels")
    expected = saliency(params, image, label)
    scale = 1.0 + float(np.max(np.abs(input_gradients(params, image))))
    check_map(got, expected, call, scale, saliency_departures(params, image, label))
    return got


def student_error(exc, image):
    if np.asarray(image).dtype.kind in "iu":
        return (f"saliency_map on a {np.asarray(image).dtype} image raised {exc}: convert the "
                "image to a float32 tensor before tape.watch (an integer tensor has no "
                "gradient), convention 2")
    return f"saliency_map raised {exc}"


@pytest.mark.cell("test_saliency")
@pytest.mark.points(1)
def test_saliency_of_a_linear_model(submission):
    """logits = x.ravel() @ W + b: the map is max over channels of |W[:, label]|, whatever x."""
    rng = np.random.default_rng(1601)
    W = rng.normal(size=(5 * 4 * 3, 4)).astype(np.float32)
    b = np.array([0.0, 0.0, 0.0, 3.0], dtype=np.float32)  # class 3 is predicted: never tested
    params = [(W, b)]
    model = build(submission, params, (5, 4, 3))
    for label in (0, 2, 1):
        image = rng.uniform(-0.3, 0.3, size=(5, 4, 3)).astype(np.float32)
        assert np.argmax(forward(params, image[None])[0]) == 3
        check_saliency(submission, model, params, image, label,
                       "a linear model of a 5 x 4 image with 3 channels")


@pytest.mark.cell("test_saliency")
@pytest.mark.points(1)
def test_saliency_of_a_relu_network(submission):
    """A network 6 x 7 x 2 -> 10 -> 8 -> 3 at float64 and float32 images where some ReLU units
    are off; every label, the largest included."""
    params = draw_params(1602, [6 * 7 * 2, 10, 8, 3])
    model = build(submission, params, (6, 7, 2))
    rng = np.random.default_rng(1603)
    for image in (rng.normal(size=(6, 7, 2)), rng.normal(size=(6, 7, 2)).astype(np.float32)):
        assert 0 < np.sum(forward(params, image[None])[1][0] > 0) < 10  # some units off
        for label in range(3):
            check_saliency(submission, model, params, image, label,
                           f"a ReLU network of a 6 x 7 image with 2 channels ({image.dtype})")


@pytest.mark.cell("test_saliency")
@pytest.mark.points(1)
def test_saliency_of_integer_images_and_extreme_logits(submission):
    """uint8 images of values up to 255 (the logits are in the hundreds: the softmax is
    saturated, the logit's gradient is not), placed in the notebook's process and left alone;
    and an image at which every ReLU unit is off: the map is exactly zero there."""
    rng = np.random.default_rng(1604)
    params = [(rng.normal(size=(4 * 4 * 3, 3)).astype(np.float32), np.zeros(3, np.float32))]
    model = build(submission, params, (4, 4, 3))
    image = rng.integers(150, 256, size=(4, 4, 3)).astype(np.uint8)
    assert np.ptp(forward(params, image[None])[0]) > 100  # the softmax is saturated
    for label in (0, 1, 2):
        placed = submission.remote(image)
        try:
            check_saliency(submission, model, params, image, label,
                           "a linear model of a uint8 4 x 4 image, values 150..255",
                           placed=placed)
        except StudentError as exc:
            raise AssertionError(student_error(exc, image)) from None
        check_unchanged(submission, placed, image, "saliency_map")
    dead = [(rng.normal(size=(4 * 4 * 3, 6)).astype(np.float32), np.full(6, -1000.0, np.float32)),
            (rng.normal(size=(6, 2)).astype(np.float32), np.zeros(2, np.float32))]
    dead_model = build(submission, dead, (4, 4, 3))
    zeros = np.zeros((4, 4, 3), dtype=np.uint8)
    got = as_map(submission.saliency_map(dead_model, zeros, 1), (4, 4),
                 "saliency_map at an image where every ReLU unit is off")
    assert np.array_equal(got, np.zeros((4, 4))), (
        "saliency_map at an image where every ReLU unit is off should be exactly 0 everywhere "
        f"(no gradient reaches the image), yours has maximum {got.max():.4g}")


@pytest.mark.cell("test_saliency")
@pytest.mark.points(1)
def test_saliency_finds_the_region_a_model_reads(submission):
    """A network 8 x 9 x 3 -> 6 -> 4 whose first layer reads only the pixels of rows 2..4,
    columns 5..7: the map is 0 elsewhere and matches the exact gradient inside."""
    params = draw_params(1605, [8 * 9 * 3, 6, 4], bias=1.0)
    read = np.zeros((8, 9, 3), dtype=bool)
    read[2:5, 5:8] = True
    params[0][0][~read.ravel()] = 0.0
    model = build(submission, params, (8, 9, 3))
    image = np.random.default_rng(1606).uniform(0, 1, size=(8, 9, 3))
    for label in (3, 0):
        got = check_saliency(submission, model, params, image, label,
                             "a network that reads only rows 2..4, columns 5..7 of an 8 x 9 image")
        assert np.all(got[~read[..., 0]] == 0) and got[read[..., 0]].max() > 0


@pytest.mark.cell("test_saliency")
@pytest.mark.points(1)
def test_saliency_of_the_trained_detector_points_at_region(submission):
    params = detector_params(submission)
    model = submission.detector
    for index, image in enumerate(detector_images(3, 1607)):
        check_saliency(submission, model, params, image, 0,
                       f"the notebook's detector, a class-1 image (number {index})")
        got = check_saliency(submission, model, params, image, 1,
                             f"the notebook's detector, a class-1 image (number {index})")
        # the property, on the student's own (now checked) map: REGION, 16 of the 144
        # pixels, holds the largest value and over a quarter of the total
        assert IN_REGION.flat[np.argmax(got)] and got[IN_REGION].sum() > 0.25 * got.sum()


# --- occlusion ----------------------------------------------------------------------------------

def occlusion_departures(params, image, label, patch, stride, fill):
    ref = drops_of(params, image, label, patch, stride, fill)
    out = [(-ref, "the sign is reversed: the drop is score(image) - score(occluded image)"),
           (drops_of(params, image, label, patch, stride, 0.0),
            f"that is the drop with the patch set to 0: set it to fill = {fill:g}"),
           (drops_of(params, image, label, patch, stride, fill, channels=0),
            "only the first channel is hidden: the patch covers every channel"),
           (drops_of(params, image, label, patch, stride, fill,
                     score=lambda logits: softmax(logits)[:, label]),
            ("that is the drop of the softmax probability: the score is the logit "
            "(convention 1)"))]
    if np.asarray(image).dtype.kind in "iu" and fill != int(fill):
        out.append((drops_of(params, image, label, patch, stride, float(int(fill))),
                    (f"the fill {fill:g} was cut to {int(fill)}: the occluded copy keeps the "
                    f"image's {np.asarray(image).dtype} dtype; make it float32 (convention 2)")))
    if patch != stride:
        out.append((drops_of(params, image, label, patch, stride, fill, step=patch),
                    (f"the patches start at i * patch; they start at i * stride (stride "
                    f"{stride}, patch {patch})")))
    return out


def shape_hint(shape, patch, stride):
    rows = (shape[0] - patch) // stride + 1
    cols = (shape[1] - patch) // stride + 1
    return (f" for an image of {shape[0]} x {shape[1]}, patch {patch}, stride {stride}: "
            f"rows = (H - patch) // stride + 1 = {rows}, cols = (W - patch) // stride + 1 = "
            f"{cols}, every position whose whole patch lies inside the image, the last one "
            "included")


def check_occlusion(submission, model, params, image, label, patch, stride, fill, what, *,
                    placed=None):
    call = f"occlusion_map on {what}, label {label}, patch {patch}, stride {stride}, fill {fill:g}"
    got = submission.occlusion_map(model, image if placed is None else placed, label,
                                   patch=patch, stride=stride, fill=fill)
    if placed is not None:
        check_unchanged(submission, placed, image, "occlusion_map")
    _, shape = positions(np.shape(image), patch, stride)
    got = as_map(got, shape, call, shape_hint(np.shape(image), patch, stride))
    expected = drops_of(params, image, label, patch, stride, fill)
    check_map(got, expected, call, logit_scale(params, image),
              occlusion_departures(params, image, label, patch, stride, fill))
    return got


@pytest.mark.cell("test_occlusion")
@pytest.mark.points(1)
def test_occlusion_of_a_linear_model(submission):
    """logits = x.ravel() @ W + b: the drop is the sum over the patch of (x - fill) * W[:, label]."""
    rng = np.random.default_rng(1608)
    W = rng.normal(size=(6 * 5 * 3, 3)).astype(np.float32)
    params = [(W, np.zeros(3, dtype=np.float32))]
    model = build(submission, params, (6, 5, 3))
    image = rng.uniform(-0.3, 0.3, size=(6, 5, 3))
    for label, patch, stride, fill in [(0, 2, 1, 0.5), (1, 3, 2, -0.25)]:
        check_occlusion(submission, model, params, image, label, patch, stride, fill,
                        "a linear model of a 6 x 5 image with 3 channels")


@pytest.mark.cell("test_occlusion")
@pytest.mark.points(1)
def test_occlusion_positions_up_to_the_border(submission):
    """Sizes where the last patch ends at the border, where (H - patch) is not a multiple of
    the stride, a patch as large as the image, and patches larger than the stride."""
    params = draw_params(1609, [7 * 9 * 2, 6, 3])
    model = build(submission, params, (7, 9, 2))
    image = np.random.default_rng(1610).uniform(0, 1, size=(7, 9, 2)).astype(np.float32)
    for label, patch, stride in [(2, 3, 2), (0, 2, 3), (1, 4, 1), (2, 7, 1), (0, 3, 3)]:
        check_occlusion(submission, model, params, image, label, patch, stride, 0.0,
                        "a ReLU network of a 7 x 9 image with 2 channels")


@pytest.mark.cell("test_occlusion")
@pytest.mark.points(1)
def test_occlusion_of_integer_and_float32_images_leaves_them_alone(submission):
    """A uint8 image with a fill that is not an integer; float32 and float64 images placed in
    the notebook's process: right drops, and the caller's image as it was."""
    params = draw_params(1611, [5 * 6 * 3, 8, 2])
    params = [(W * np.float32(0.03), b) for W, b in params[:1]] + params[1:]  # pixels 0..255
    model = build(submission, params, (5, 6, 3))
    rng = np.random.default_rng(1612)
    cases = [(rng.integers(0, 256, size=(5, 6, 3)).astype(np.uint8), 127.5),
             (rng.normal(size=(5, 6, 3)).astype(np.float32), 0.25),
             (rng.normal(size=(5, 6, 3)), 0.25)]
    for image, fill in cases:
        check_occlusion(submission, model, params, image, 1, 2, 1, fill,
                        f"a ReLU network of a {image.dtype} 5 x 6 image with 3 channels",
                        placed=submission.remote(image))


@pytest.mark.cell("test_occlusion")
@pytest.mark.points(1)
def test_occlusion_finds_the_region_a_model_reads(submission):
    """The network that reads only rows 2..4, columns 5..7: hiding a patch elsewhere changes
    nothing, hiding one that touches those pixels does."""
    params = draw_params(1605, [8 * 9 * 3, 6, 4], bias=1.0)
    read = np.zeros((8, 9, 3), dtype=bool)
    read[2:5, 5:8] = True
    params[0][0][~read.ravel()] = 0.0
    model = build(submission, params, (8, 9, 3))
    image = np.random.default_rng(1613).uniform(0, 1, size=(8, 9, 3))
    got = check_occlusion(submission, model, params, image, 3, 2, 2, 0.0,
                          "a network that reads only rows 2..4, columns 5..7 of an 8 x 9 image")
    touches = np.array([[read[2 * i:2 * i + 2, 2 * j:2 * j + 2].any() for j in range(4)]
                        for i in range(4)])
    assert np.allclose(got[~touches], 0, atol=1e-4) and np.abs(got[touches]).max() > 1e-2


@pytest.mark.cell("test_occlusion")
@pytest.mark.points(1)
def test_occlusion_of_the_trained_detector_points_at_region(submission):
    params = detector_params(submission)
    model = submission.detector
    for index, image in enumerate(detector_images(2, 1614)):
        got = check_occlusion(submission, model, params, image, 1, 4, 2, 0.0,
                              f"the notebook's detector, a class-1 image (number {index})")
        # the property, on the student's own (now checked) map: the largest drop touches REGION
        i, j = np.unravel_index(np.argmax(got), got.shape)
        assert IN_REGION[2 * i:2 * i + 4, 2 * j:2 * j + 4].any()
