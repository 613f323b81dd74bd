"""Hidden graders for assignment 15-autoencoder (never shown to students).

The architecture is the student's to vary (the spec names one; others may pass), so training is
checked in two ways: on a small case the spec's four steps are replayed in the notebook's process
with the student's own ``build_autoencoder`` and ``add_noise`` and the weights must agree (Keras
is seeded and deterministic there, so every detail of the steps shows: the seed's place, the
noisy inputs and clean targets, epochs, batch size, shuffling); on the graders' split the trained
model's held-out denoising error must stay below a threshold measured on reference runs, with the
mean error bounded beside it (training towards the noisy inputs brightens every background pixel
and still passes the squared-error threshold alone).

Inputs are chosen where plausible wrong formulas differ: uint8 and int64 images (a result written
into an integer array truncates), real digits whose brightest pixel is 14 or 15 (dividing by the
batch's maximum agrees with dividing by 16 on every batch holding a 16), float32 images placed in
the notebook's process (``np.asarray(images, dtype=np.float32)`` does not copy them), noisy pixels
at 0 and 1 (clipping at both ends), a noise level other than 1, and the exact draws of
``np.random.default_rng(seed)``.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from autograder.checks import assert_array, passes_for_seeds
from autograder.client import RemoteObject

DIGITS = load_digits()
IMAGES = DIGITS.images.astype(np.uint8)  # as the notebook stores them
FAINT = IMAGES[IMAGES.reshape(len(IMAGES), -1).max(axis=1) < 16]  # 32 digits, brightest 14 or 15
IMAGES_TRAIN, IMAGES_TEST, LABELS_TRAIN, LABELS_TEST = train_test_split(
    IMAGES, DIGITS.target, test_size=0.25, random_state=1515, stratify=DIGITS.target)

# Thresholds from reference runs on this split (25 epochs; seeds 0-11 and 21-23): squared error
# 0.0452-0.0493, mean error +0.0005 to +0.008, 5-NN accuracy on the codes 0.64-0.73 (the deeper
# alternative: 0.041-0.043, 0.75-0.79). Training towards the noisy inputs: 0.052-0.054, under the
# threshold, but +0.046 to +0.053; an untrained model 0.18 and +0.19, accuracy 0.2-0.3.
NOISE_STD, TEST_NOISE_SEED = 0.3, 1516
MAX_MSE, MAX_BIAS, MIN_ACCURACY = 0.055, 0.02, 0.55
SEEDS, NEED = (21, 22, 23), 2
TRAIN_TIMEOUT = 150  # s for one training through the proxy (CPU, other jobs running)
RTOL = 1e-5  # float32 weights of the same deterministic computation


def prepared(images):
    """The spec's prepare_digits, in float64 (the student's float32 is compared to 1e-6)."""
    images = np.asarray(images, dtype=float)
    return images.reshape(len(images), 64) / 16


def noisy(X, noise_std, seed):
    rng = np.random.default_rng(seed)
    return np.clip(np.asarray(X, dtype=float) + rng.normal(0.0, noise_std, size=np.shape(X)),
                   0.0, 1.0)


X_TRAIN = prepared(IMAGES_TRAIN).astype(np.float32)
X_TEST = prepared(IMAGES_TEST).astype(np.float32)
NOISY_TEST = noisy(X_TEST, NOISE_STD, TEST_NOISE_SEED).astype(np.float32)


def same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))


def check_unchanged(submission, placed, original, call: str, name: str):
    assert same(submission.fetch(placed), original), (
        f"{call} changed the caller's {name} in place: leave it as it was (convention 2; "
        "np.asarray(a, dtype=np.float32) returns the caller's own array when it is float32 "
        "already, so X /= 16 or X += noise on it changes the caller's data)")


def float32_rows(value, shape, what):
    assert_array(value, shape=shape, what=what)
    assert value.dtype == np.float32, (
        f"{what} has dtype {value.dtype}: return a float32 array (convention 1)")
    assert np.all(np.isfinite(value)), f"{what} contains NaN or infinity"
    return value


def predict(model, X, what: str, shape):
    # one batch: no data pipeline to build per model (predict's costs seconds under load)
    out = model.predict_on_batch(X)
    assert_array(out, shape=shape, what=what)
    return out.astype(float)


def three_models(result, call: str):
    assert isinstance(result, list | tuple) and len(result) == 3 and all(
        type(model) is RemoteObject for model in result), (
        f"{call} must return the three Keras models (autoencoder, encoder, decoder)")
    return result


# --- (a) prepare_digits --------------------------------------------------------------------------

def prepare_hint(got, images) -> str:
    flat = np.asarray(images, dtype=float).reshape(len(images), 64)
    if np.allclose(got, flat / 255, rtol=1e-5):
        return "; that is pixel / 255: these digits' pixels go from 0 to 16, so divide by 16"
    top = flat.max()
    if top != 16 and np.allclose(got, flat / top, rtol=1e-5):
        return (f"; that is pixel / {top:g}, this batch's own maximum: divide by 16, the top of "
                "the scale, whatever the batch holds (faint digits stay faint)")
    if np.asarray(images).dtype.kind in "iu" and np.array_equal(got, np.floor(flat / 16)):
        return ("; the values are cut down to whole numbers: was the result written into an "
                "array of the images' integer dtype (np.zeros_like(images), "
                "np.empty_like(images))? Turn the images into floats before dividing "
                "(convention 1)")
    return ""


@pytest.mark.cell("test_prepare")
@pytest.mark.points(1.5)
def test_prepare_digits(submission):
    cases = [("uint8 digits", IMAGES_TEST[:30]),
             ("faint uint8 digits (their brightest pixel is 14 or 15)", FAINT),
             ("int64 digits", IMAGES_TEST[30:40].astype(np.int64)),
             ("float64 digits", IMAGES_TEST[40:50].astype(np.float64)),
             ("float32 digits", FAINT[:10].astype(np.float32))]
    for kind, images in cases:
        call = f"prepare_digits of {len(images)} {kind}"
        placed = submission.remote(images)
        got = float32_rows(submission.prepare_digits(placed), (len(images), 64), call)
        expected = prepared(images)
        if not np.allclose(got, expected, rtol=1e-6, atol=0):
            worst = np.unravel_index(np.argmax(np.abs(got - expected)), got.shape)
            pixel = np.asarray(images).reshape(len(images), 64)[worst]
            raise AssertionError(f"{call}: a pixel of value {pixel:g} should be "
                                 f"{expected[worst]:.6g}, yours is {got[worst]:.6g}"
                                 + prepare_hint(got, images))
        check_unchanged(submission, placed, images, call, "images")


# --- (b) add_noise -------------------------------------------------------------------------------

def noise_hint(got, X, noise_std, seed) -> str:
    if got.min() < 0 or got.max() > 1:
        return (f"; yours has values from {got.min():.3g} to {got.max():.3g}: clip the noisy "
                "images to [0, 1] (np.clip)")
    legacy_draw = np.random.RandomState(seed).normal(0.0, noise_std, size=X.shape)
    legacy = np.clip(X + legacy_draw, 0.0, 1.0)
    if np.allclose(got, legacy, atol=1e-6):
        return ("; those are the draws of np.random.seed(seed) and np.random.normal, another "
                "generator: draw with rng = np.random.default_rng(seed), rng.normal(...)")
    row_noise = np.random.default_rng(seed).normal(0.0, noise_std, size=X.shape[-1])
    if np.allclose(got, np.clip(X + row_noise, 0.0, 1.0), atol=1e-6):
        return ("; every image got the same noise (a draw of size X.shape[1]): draw one value "
                "per pixel of every image, size=X.shape")
    return ("; the spec's draw is np.clip(X + np.random.default_rng(seed).normal(0.0, noise_std, "
            "size=X.shape), 0, 1)")


@pytest.mark.cell("test_noise")
@pytest.mark.points(1.5)
def test_add_noise_draws(submission):
    rng = np.random.default_rng(1502)
    cases = [(prepared(IMAGES_TEST[:6]).astype(np.float32), 0.3, 1502,
              "6 prepared digits (pixels at 0 and at 1)"),
             (rng.uniform(0.2, 0.8, size=(4, 10)).astype(np.float32), 0.05, 7,
              "a float32 array (4, 10)"),
             (prepared(FAINT[:3]), 0.8, 0, "3 prepared float64 digits")]
    for X, noise_std, seed, kind in cases:
        call = f"add_noise({kind}, noise_std={noise_std}, seed={seed})"
        placed = submission.remote(X)
        got = float32_rows(submission.add_noise(placed, noise_std, seed), X.shape, call)
        expected = noisy(X, noise_std, seed)
        if not np.allclose(got, expected, rtol=0, atol=1e-6):
            worst = np.unravel_index(np.argmax(np.abs(got - expected)), got.shape)
            raise AssertionError(
                f"{call}: at index {tuple(int(i) for i in worst)} (X = {X[worst]:.4g}) it should "
                f"be {expected[worst]:.6g}, yours is {got[worst]:.6g}"
                + noise_hint(got.astype(float), X.astype(float), noise_std, seed))
        check_unchanged(submission, placed, X, call, "X")


# --- (c) build_autoencoder -----------------------------------------------------------------------

def check_bottleneck(models, X, code_size: int, call: str):
    """The autoencoder's output in [0, 1], the codes of shape (n, code_size), and the output is
    the decoder's of those codes. Returns the autoencoder's output."""
    autoencoder, encoder, decoder = models
    n = len(X)
    out = predict(autoencoder, X, f"the autoencoder's predict of {n} digits ({call})", (n, 64))
    assert np.all(np.isfinite(out)), f"the autoencoder's output ({call}) contains NaN"
    assert out.min() >= 0 and out.max() <= 1, (
        f"the autoencoder's output ({call}) goes from {out.min():.3g} to {out.max():.3g}: pixels "
        "lie in [0, 1], end the decoder with Dense(64, activation=\"sigmoid\")")
    codes = predict(encoder, X, f"the encoder's codes of {n} digits ({call})", (n, code_size))
    again = predict(decoder, codes.astype(np.float32),
                    f"the decoder's output for the codes ({call})", (n, 64))
    worst = float(np.max(np.abs(again - out)))
    assert worst <= 1e-4, (
        f"{call}: decoder.predict(encoder.predict(X)) differs from autoencoder.predict(X) by up "
        f"to {worst:.3g}: the autoencoder must be the encoder followed by the decoder, built "
        "from those two models (sharing their layers), so everything it knows passes through "
        "the code")
    return out


@pytest.mark.cell("test_model")
@pytest.mark.points(1)
def test_autoencoder_shapes_and_bottleneck(submission):
    X = prepared(IMAGES_TEST[:20]).astype(np.float32)
    for code_size, call in [(2, "build_autoencoder()"), (3, "build_autoencoder(code_size=3)")]:
        submission.seed(1503)
        models = three_models(submission.build_autoencoder() if code_size == 2 else
                              submission.build_autoencoder(code_size=3), call)
        out = check_bottleneck(models, X, code_size, call)
        autoencoder = models[0]
        assert autoencoder.compiled, f"{call}: compile the autoencoder (autoencoder.compile(...))"
        loss = autoencoder.evaluate(X, X, verbose=0)
        loss = float(loss[0] if isinstance(loss, list | tuple) else loss)
        mse = float(np.mean((out - X) ** 2))
        assert np.isclose(loss, mse, rtol=1e-3), (
            f"{call}: the compiled loss of the autoencoder is {loss:.5g} where the mean squared "
            f"error is {mse:.5g}: compile it with loss=\"mse\"")


@pytest.mark.cell("test_model")
@pytest.mark.points(1)
def test_predictions_are_deterministic(submission):
    X = prepared(IMAGES_TEST[20:50]).astype(np.float32)
    submission.seed(1504)
    models = three_models(submission.build_autoencoder(), "build_autoencoder()")
    for model, name, shape in [(models[0], "autoencoder", (30, 64)), (models[1], "encoder", (30, 2))]:
        first, second = (predict(model, X, f"the {name}'s predict of 30 digits", shape)
                         for _ in range(2))
        assert np.array_equal(first, second), (
            f"the {name} gives another output each time it predicts the same 30 digits: noise "
            "or dropout is still active at prediction time (convention 4). Keras's "
            "GaussianNoise and Dropout layers are off in predict; a noise added in a Lambda "
            "layer or with training=True is not. Add the training noise with add_noise")
    check_bottleneck(models, X, 2, "build_autoencoder()")  # the points need a right model too


# --- (d) train_autoencoder -----------------------------------------------------------------------

def replay(submission, X, noise_std, epochs, batch_size, seed, *, seed_first=True,
           inputs="noisy", targets="clean", noise_seed=None, shuffle=True):
    """The weights after the spec's four steps (or a known departure from them), run in the
    notebook's process with its own build_autoencoder and add_noise. Keras starts from the
    state the graders' call to train_autoencoder found (seeded with BEFORE_TRAINING)."""
    submission.seed(BEFORE_TRAINING)
    keras = submission.keras
    if seed_first:
        keras.utils.set_random_seed(seed)
    autoencoder = submission.build_autoencoder()[0]
    if not seed_first:
        keras.utils.set_random_seed(seed)
    noisy_X = np.asarray(submission.add_noise(X, noise_std,
                                              seed if noise_seed is None else noise_seed))
    data = {"noisy": noisy_X, "clean": X}
    autoencoder.fit(data[inputs], data[targets], epochs=epochs, batch_size=batch_size,
                    verbose=0, shuffle=shuffle)
    return autoencoder.get_weights()


def same_weights(got, expected) -> bool:
    return len(got) == len(expected) and all(
        np.shape(g) == np.shape(e) and np.allclose(g, e, rtol=RTOL, atol=1e-6)
        for g, e in zip(got, expected))


SMALL = {"noise_std": 0.5, "epochs": 3, "batch_size": 16, "seed": 7}  # 40 digits: 3 batches
BEFORE_TRAINING = 1505  # not the spec's seed: train_autoencoder must seed Keras itself


def training_hint(submission, X, got) -> str:
    departures = [
        ({"inputs": "noisy", "targets": "noisy"},
         "the targets are the noisy images: fit the noisy inputs to the clean X_train"),
        ({"inputs": "clean"}, "the inputs are the clean images: fit the noisy ones"),
        ({"shuffle": False}, "the examples are not shuffled: keep fit's default shuffle=True"),
        ({"batch_size": 32}, "batch_size is not passed on to fit (32 is its default)"),
        ({"epochs": 25}, "epochs is not passed on to fit (25 is the default)"),
        ({"seed_first": False}, ("Keras is seeded after the model is built: call "
                                 "keras.utils.set_random_seed(seed) first, it fixes the "
                                 "initial weights")),
        ({"noise_seed": 0}, "the noise is drawn with seed 0, not with the seed given"),
        ({"noise_std": 0.3}, "the noise has the default noise_std 0.3, not the one given"),
    ]
    for change, hint in departures:
        args = {**SMALL, **{k: v for k, v in change.items() if k in SMALL}}
        options = {k: v for k, v in change.items() if k not in SMALL}
        if same_weights(got, replay(submission, X, **args, **options)):
            return hint
    return ("follow the four steps in their order: keras.utils.set_random_seed(seed), "
            "build_autoencoder(), noisy = add_noise(X_train, noise_std, seed), "
            "autoencoder.fit(noisy, X_train, epochs=epochs, batch_size=batch_size, verbose=0) on "
            "all of X_train, shuffled (fit's default)")


@pytest.mark.cell("test_train")
@pytest.mark.points(1.5)
def test_training_follows_the_spec(submission):
    X = X_TRAIN[:40]
    call = "train_autoencoder(40 digits, noise_std=0.5, epochs=3, batch_size=16, seed=7)"
    submission.seed(BEFORE_TRAINING)
    placed = submission.remote(X)
    models = three_models(submission.train_autoencoder(placed, **SMALL, timeout=TRAIN_TIMEOUT),
                          call)
    got = models[0].get_weights()
    assert isinstance(got, list) and all(isinstance(w, np.ndarray) for w in got), (
        f"{call}: the autoencoder's get_weights() is not a list of arrays")
    check_unchanged(submission, placed, X, call, "X_train")
    check_bottleneck(models, X_TEST[:10], 2, f"the models {call} returns")
    if not same_weights(got, replay(submission, X, **SMALL)):
        raise AssertionError(
            f"{call}: the trained weights differ from those of the spec's steps replayed with "
            f"your build_autoencoder and add_noise: {training_hint(submission, X, got)}")


_TRAINED: dict = {}


def trained(submission, seed: int):
    """train_autoencoder(the graders' training digits, seed=seed) with the defaults, trained
    once per seed and notebook process (the codes' tests reuse the models)."""
    key = (id(submission._process), seed)
    if key not in _TRAINED:
        submission.seed(seed + 1000)  # deterministic even where the notebook forgets to seed
        call = f"train_autoencoder(X_train, seed={seed})"
        _TRAINED[key] = three_models(
            submission.train_autoencoder(X_TRAIN, seed=seed, timeout=TRAIN_TIMEOUT), call)
    return _TRAINED[key]


@pytest.mark.cell("test_train")
@pytest.mark.points(1.5)
def test_denoising_error_on_held_out_digits(submission):
    results, biased = [], []

    def trial(seed):
        autoencoder = trained(submission, seed)[0]
        out = predict(autoencoder, NOISY_TEST, "the trained autoencoder's output for the noisy "
                      "held-out digits", X_TEST.shape)
        error = out - X_TEST
        mse, bias = float(np.mean(error ** 2)), float(np.mean(error))
        results.append(f"seed {seed}: mean squared error {mse:.4f}, mean error {bias:+.4f}")
        biased.append(abs(bias) >= MAX_BIAS)
        return mse < MAX_MSE and abs(bias) < MAX_BIAS

    try:
        passes_for_seeds(trial, SEEDS, need=NEED,
                         what=f"denoising held-out digits (noise_std {NOISE_STD}): mean squared "
                              f"error below {MAX_MSE} and mean error within ±{MAX_BIAS}")
    except AssertionError as exc:
        if not results:  # the first training did not give models to measure
            raise
        hint = (": the reconstructions are systematically too bright or too dark; are the "
                "targets of fit the clean digits (not the noisy inputs)?" if any(biased) else "")
        raise AssertionError(f"{exc} ({'; '.join(results)}){hint}") from None


# --- (e) the codes -------------------------------------------------------------------------------

@pytest.mark.cell("test_codes")
@pytest.mark.points(1)
def test_digit_codes(submission):
    encoder = trained(submission, SEEDS[0])[1]
    for kind, images in [("uint8 test digits", IMAGES_TEST[:50]),
                         ("faint uint8 digits (brightest pixel 14 or 15)", FAINT)]:
        call = f"digit_codes(encoder, {len(images)} {kind})"
        got = submission.digit_codes(encoder, images)
        assert_array(got, shape=(len(images), 2), what=call)
        got = got.astype(float)
        expected = predict(encoder, prepared(images).astype(np.float32), "the encoder's codes",
                           (len(images), 2))
        if not np.allclose(got, expected, rtol=1e-5, atol=1e-5):
            raw = predict(encoder, np.asarray(images, dtype=np.float32).reshape(len(images), 64),
                          "the encoder's codes", (len(images), 2))
            hint = ("the images went into the encoder unprepared (values 0..16): prepare them "
                    "with prepare_digits first" if np.allclose(got, raw, rtol=1e-5, atol=1e-5)
                    else "they should be encoder.predict(prepare_digits(images), verbose=0) "
                    "(is prepare_digits right? See its own test)")
            raise AssertionError(f"{call}: the codes differ from the encoder's codes of the "
                                 f"prepared images by up to {np.max(np.abs(got - expected)):.3g}: "
                                 + hint)


@pytest.mark.cell("test_codes")
@pytest.mark.points(1)
def test_codes_tell_the_digits_apart(submission):
    results = []

    def trial(seed):
        encoder = trained(submission, seed)[1]
        codes_train = predict(encoder, X_TRAIN, "the encoder's codes of the training digits",
                              (len(X_TRAIN), 2))
        codes_test = predict(encoder, X_TEST, "the encoder's codes of the test digits",
                             (len(X_TEST), 2))
        accuracy = KNeighborsClassifier(n_neighbors=5).fit(codes_train, LABELS_TRAIN).score(
            codes_test, LABELS_TEST)
        results.append(f"seed {seed}: {accuracy:.3f}")
        return accuracy >= MIN_ACCURACY

    try:
        passes_for_seeds(trial, SEEDS, need=NEED,
                         what=f"5-nearest-neighbour accuracy of at least {MIN_ACCURACY} on the "
                              "2-D codes of held-out digits")
    except AssertionError as exc:
        if not results:
            raise
        raise AssertionError(f"{exc} ({'; '.join(results)}): do the codes come from the "
                             "trained encoder, the first half of the autoencoder?") from None
