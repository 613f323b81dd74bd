"""Hidden graders for assignment 12-char-lstm (never shown to students)."""

from pathlib import Path

import numpy as np
import pytest

from autograder.checks import assert_array, assert_close, passes_for_seeds

TEXT = (Path(__file__).resolve().parent.parent / "data" / "corpus.txt").read_text(
    encoding="utf-8").lower()
VOCAB = sorted(set(TEXT))
IDS = np.array([VOCAB.index(ch) for ch in TEXT], dtype=np.int64)
SEQ_LEN = 32
TRAIN_SEEDS, TRAIN_NEED = (1, 2), 1  # each training costs seconds of CPU: two tries
MAX_VAL_LOSS, MIN_VAL_ACCURACY = 2.1, 0.42
TRAIN_TIMEOUT = 150  # s for one training run through the proxy (CPU, other jobs running)
SEED_TEXT = "the keeper climbed the steps and lit the lamp"


def log_softmax(logits):
    logits = np.asarray(logits, dtype=float)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits):
    return np.exp(log_softmax(logits))


def windows(ids, seq_len, step):
    starts = np.arange(0, len(ids) - seq_len, step)
    index = starts[:, None] + np.arange(seq_len)[None, :]
    return ids[index], ids[index + 1]


# --- (a) vocabulary and encoding -------------------------------------------------------------
STRINGS = ["mississippi", "The cat sat.\nOn the mat!", TEXT[1000:1400], "zyx wvu"]


@pytest.mark.cell("test_vocab")
@pytest.mark.points(0.5)
def test_build_vocab(submission):
    for text in STRINGS:
        vocab = submission.build_vocab(text)
        assert isinstance(vocab, list), f"build_vocab must return a list, got {type(vocab).__name__}"
        assert vocab == sorted(set(text)), \
            f"build_vocab({text[:20]!r}...) must be the sorted distinct characters"


@pytest.mark.cell("test_vocab")
@pytest.mark.points(0.75)
def test_encode(submission):
    for text in STRINGS:
        vocab = sorted(set(text))
        ids = submission.encode(text, vocab)
        assert_array(ids, shape=(len(text),), dtype_kind="i", what=f"encode({text[:20]!r}...)")
        expected = [vocab.index(ch) for ch in text]
        assert ids.tolist() == expected, f"encode({text[:20]!r}...) gives wrong ids"
    # a vocabulary that is not sorted: ids are positions in the vocabulary given
    assert submission.encode("cab", ["c", "b", "a"]).tolist() == [0, 2, 1], \
        "encode must use the positions in the vocab it is given"


@pytest.mark.cell("test_vocab")
@pytest.mark.points(0.75)
def test_decode(submission):
    rng = np.random.default_rng(1200)
    for text in STRINGS:
        vocab = sorted(set(text))
        ids = rng.integers(0, len(vocab), size=50)
        out = submission.decode(ids, vocab)
        assert isinstance(out, str), f"decode must return a str, got {type(out).__name__}"
        assert out == "".join(vocab[i] for i in ids), "decode gives the wrong characters"
        assert submission.decode(submission.encode(text, vocab), vocab) == text, \
            f"decode(encode(text)) != text for {text[:20]!r}..."


# --- (b) training sequences ------------------------------------------------------------------
@pytest.mark.cell("test_sequences")
@pytest.mark.points(1)
def test_make_sequences(submission):
    rng = np.random.default_rng(1300)
    # (n, seq_len, step): the last two fit a final window exactly (s + seq_len + 1 == n)
    for n, seq_len, step in [(20, 5, 1), (50, 8, 3), (31, 10, 4), (100, 32, 8), (41, 7, 11)]:
        ids = rng.integers(0, 30, size=n)
        out = submission.make_sequences(ids, seq_len, step)
        assert isinstance(out, tuple) and len(out) == 2, "make_sequences must return (X, Y)"
        X, Y = windows(ids, seq_len, step)
        what = f"make_sequences(ids of length {n}, seq_len={seq_len}, step={step})"
        assert_array(out[0], dtype_kind="i", what=f"X of {what}")
        assert_close(out[0], X, what=f"X of {what}")
        assert_close(out[1], Y, what=f"Y of {what}")


# --- (c) the model ---------------------------------------------------------------------------
@pytest.mark.cell("test_char_model")
@pytest.mark.points(0.5)
def test_char_model_outputs(submission):
    V, E, H = 20, 8, 16
    submission.seed(0)
    model = submission.build_char_model(V, E, H)
    assert model.compiled, "build_char_model must compile the model (model.compile(...))"
    X = np.random.default_rng(0).integers(0, V, size=(3, 7))
    logits = model.predict_on_batch(X)
    assert_array(logits, shape=(3, 7, V), what=f"output for a batch (3, 7) with vocab_size {V}")
    logits = np.asarray(logits, dtype=float)
    sums = logits.sum(axis=-1)
    assert not (np.all(logits >= 0) and np.allclose(sums, 1.0, atol=1e-3)), (
        "build_char_model outputs probabilities (they sum to 1 at every position): the model "
        "must output logits, a Dense layer without activation")
    # the compiled loss is the cross-entropy of softmax(logits) (from_logits=True)
    Y = np.random.default_rng(1).integers(0, V, size=(3, 7))
    expected_loss = float(-np.mean(np.take_along_axis(log_softmax(logits), Y[..., None], -1)))
    compiled_loss = float(np.ravel(model.evaluate(X, Y, verbose=0))[0])
    assert abs(compiled_loss - expected_loss) <= 1e-3 * expected_loss, (
        f"the compiled loss of build_char_model({V}, {E}, {H}) is {compiled_loss:.4f} where the "
        f"cross-entropy of softmax(logits) is {expected_loss:.4f}: compile with "
        "keras.losses.SparseCategoricalCrossentropy(from_logits=True)")
    expected = V * E + 4 * (H * (E + H) + H) + (H * V + V)
    params = model.count_params()
    assert params == expected, (
        f"build_char_model({V}, {E}, {H}) has {params} parameters; Embedding({V}, {E}), "
        f"LSTM({H}) and Dense({V}) have {expected}")


@pytest.mark.cell("test_char_model")
@pytest.mark.points(0.5)
def test_train_char_model_uses_its_arguments(submission):
    # the accuracy test calls train_char_model with the defaults; other values must be used:
    # the optimizer's step count is epochs * (number of batches of 64 windows), and ignoring
    # any one of the three arguments here gives another count (8 instead of 6, 4 or 32)
    ids, seq_len, step, epochs = IDS[:600], 10, 3, 2
    submission.seed(5)
    model = submission.train_char_model(ids, len(VOCAB), seq_len=seq_len, step=step,
                                        epochs=epochs, timeout=TRAIN_TIMEOUT)
    n_windows = len(windows(ids, seq_len, step)[0])
    expected = epochs * -(-n_windows // 64)
    steps = int(np.asarray(model.optimizer.iterations.numpy()))
    assert steps == expected, (
        f"train_char_model(600 ids, seq_len={seq_len}, step={step}, epochs={epochs}) took "
        f"{steps} optimizer steps; {n_windows} windows from make_sequences(ids, {seq_len}, "
        f"{step}) in batches of 64 for {epochs} epochs take {expected}: use the arguments "
        "seq_len, step and epochs")


@pytest.mark.cell("test_char_model")
@pytest.mark.points(3)
def test_char_model_learns(submission):
    a, b = int(0.45 * len(IDS)), int(0.55 * len(IDS))  # not the notebook's split
    train_ids, X_val, Y_val = np.concatenate([IDS[:a], IDS[b:]]), *windows(IDS[a:b], SEQ_LEN,
                                                                            SEQ_LEN)
    results = []

    def trial(seed):
        submission.seed(seed)
        model = submission.train_char_model(train_ids, len(VOCAB), seq_len=SEQ_LEN, step=8,
                                            epochs=8, timeout=TRAIN_TIMEOUT)
        logits = model.predict_on_batch(X_val.astype(np.int32))
        assert_array(logits, shape=(*X_val.shape, len(VOCAB)),
                     what="the trained model's output for the validation windows")
        log_p = log_softmax(logits)
        loss = float(-np.mean(np.take_along_axis(log_p, Y_val[..., None], -1)))
        accuracy = float(np.mean(np.argmax(log_p, axis=-1) == Y_val))
        results.append(f"loss {loss:.3f}, accuracy {accuracy:.3f}")
        return loss < MAX_VAL_LOSS and accuracy > MIN_VAL_ACCURACY

    try:
        passes_for_seeds(trial, TRAIN_SEEDS, need=TRAIN_NEED,
                         what=f"validation loss below {MAX_VAL_LOSS} and accuracy above "
                              f"{MIN_VAL_ACCURACY} after train_char_model")
    except AssertionError as exc:
        raise AssertionError(f"{exc} (per seed: {'; '.join(results)})") from None


# --- (d) sampling ----------------------------------------------------------------------------
@pytest.mark.cell("test_sampling")
@pytest.mark.points(1)
def test_apply_temperature(submission):
    rng = np.random.default_rng(1400)
    for V, T in [(5, 1.0), (10, 0.5), (34, 2.0), (34, 0.3)]:
        z = rng.normal(scale=3.0, size=V)
        remote_z = submission.remote(z)  # the caller's array, read back below
        assert_close(submission.apply_temperature(remote_z, T), softmax(z / T), rtol=1e-6,
                     atol=1e-12, what=f"apply_temperature(logits of {V} characters, {T})")
        assert_close(submission.fetch(remote_z), z, rtol=0, atol=0,
                     what="logits after apply_temperature (must not change: divide a copy)")
    # class 1: integer logits (the spec allows them)
    z = np.array([3, -1, 0, 2, 5])
    assert_close(submission.apply_temperature(z, 2.0), softmax(z / 2.0), rtol=1e-6, atol=1e-12,
                 what="apply_temperature(integer logits [3, -1, 0, 2, 5], 2.0)")
    # class 3, both ends: np.exp overflows for large logits / T and underflows for very
    # negative ones; a stable softmax (the maximum subtracted) is right at both
    assert_close(submission.apply_temperature(np.full(50, 2.5), 0.002), np.full(50, 0.02),
                 what="apply_temperature(50 equal logits of 2.5, 0.002) (subtract the maximum "
                      "before np.exp)")
    z = np.array([0.3, 2.0, -0.5, 1.9])
    assert_close(submission.apply_temperature(z, 0.001), [0.0, 1.0, 0.0, 0.0], atol=1e-12,
                 what="apply_temperature(logits, 0.001) (the largest logit)")
    z = -800.0 + np.array([0.0, -1.0, 1.5, 0.5])
    assert_close(submission.apply_temperature(z, 0.8), softmax(z / 0.8), rtol=1e-6, atol=1e-12,
                 what="apply_temperature(logits near -800, 0.8) (very negative logits: subtract "
                      "the maximum before np.exp, whatever its sign)")


def sampling_model(submission, seed):
    """A model of the grader's own, built in the student's process with the notebook's keras
    (so that these tests do not depend on build_char_model), with large random weights:
    peaked, but not one-hot, next-character distributions."""
    keras = submission.keras
    model = keras.Sequential([keras.Input(shape=(None,), dtype="int32"),
                              keras.layers.Embedding(len(VOCAB), 16),
                              keras.layers.LSTM(64, return_sequences=True),
                              keras.layers.Dense(len(VOCAB))])  # logits
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=1.0, size=np.shape(w)).astype(np.float32)
                       for w in model.get_weights()])
    return model


def next_logits(model, ids, start, length, window):
    """The model's next-character logits for generated characters start..start+length-1
    of the id array ``ids``: each from the (at most) ``window`` ids before it."""
    # (few context lengths: each new input length costs the model a retrace)
    contexts = [ids[max(0, start + k - window):start + k] for k in range(length)]
    if len({len(c) for c in contexts}) == 1:
        return np.asarray(model.predict_on_batch(np.stack(contexts).astype(np.int32)),
                          dtype=float)[:, -1]
    return np.stack([np.asarray(model.predict_on_batch(c[None].astype(np.int32)),
                                dtype=float)[0, -1] for c in contexts])


def check_exact_draws(submission, model, seed_text, text, window, temperature, seed):
    """The spec fixes the generator: rng = np.random.default_rng(seed), one
    rng.choice(len(vocab), p=p_T) per character, so the text is known exactly given the model.
    Each step is reproduced from the student's own text before it (one mismatch is named)."""
    ids = np.array([VOCAB.index(ch) for ch in seed_text + text])
    logits = next_logits(model, ids, len(seed_text), len(text), window)
    rng = np.random.default_rng(seed)
    for k, z in enumerate(logits):
        p = softmax(z)
        expected = VOCAB[int(rng.choice(len(VOCAB), p=softmax(z / temperature)))]
        assert text[k] == expected, (
            f"sample_text(..., temperature={temperature}, window={window}, seed={seed}): "
            f"generated character {k} is {text[k]!r}, but rng = np.random.default_rng({seed}) "
            f"drawing with rng.choice(len(vocab), p=apply_temperature(logits, {temperature})) at "
            f"each step gives {expected!r} (probability {p[VOCAB.index(text[k])]:.3f} of "
            f"{text[k]!r} before the temperature): one draw per character, from the "
            "distribution at the last position, re-weighted by the temperature")


@pytest.mark.cell("test_sampling")
@pytest.mark.points(1)
def test_sample_text_shape_and_seed(submission):
    model = sampling_model(submission, 1500)
    for seed_text, length, window in [(SEED_TEXT, 40, 16), ("the", 25, 32)]:
        text = submission.sample_text(model, VOCAB, seed_text, length, temperature=1.0,
                                      window=window, seed=7)
        assert isinstance(text, str), f"sample_text must return a str, got {type(text).__name__}"
        assert len(text) == length, (
            f"sample_text(..., length={length}) returned {len(text)} characters; return only "
            "the generated ones, without seed_text")
        assert set(text) <= set(VOCAB), "sample_text returned characters outside the vocabulary"
        again = submission.sample_text(model, VOCAB, seed_text, length, temperature=1.0,
                                       window=window, seed=7)
        assert again == text, "sample_text with the same seed must return the same text"
        if window < len(seed_text):  # contexts of one length: one batch for the reference
            # the draws themselves (variety alone lets through a wrong distribution or generator)
            check_exact_draws(submission, model, seed_text, text, window, 1.0, 7)
    text = submission.sample_text(model, VOCAB, SEED_TEXT, 30, temperature=0.7, window=16,
                                  seed=11)
    assert isinstance(text, str) and len(text) == 30 and set(text) <= set(VOCAB), \
        "sample_text(..., length=30) must return 30 characters of the vocabulary"
    check_exact_draws(submission, model, SEED_TEXT, text, 16, 0.7, 11)


@pytest.mark.cell("test_sampling")
@pytest.mark.points(1)
def test_sample_text_low_temperature_is_greedy(submission):
    model = sampling_model(submission, 1600)
    # a long seed text (contexts of `window` characters) and one shorter than the window (the
    # whole text so far, no padding: "fewer if the text is still shorter")
    for seed_text, window, length in [(SEED_TEXT, 16, 40), ("the ", 8, 6)]:
        text = submission.sample_text(model, VOCAB, seed_text, length, temperature=0.002,
                                      window=window, seed=3)
        assert isinstance(text, str) and len(text) == length, \
            f"sample_text(..., length={length}) must return {length} characters"
        ids = np.array([VOCAB.index(ch) for ch in seed_text + text])
        start = len(seed_text)
        probs = softmax(next_logits(model, ids, start, length, window))
        chosen = probs[np.arange(length), ids[start:]]
        worst = int(np.argmin(chosen / probs.max(axis=1)))
        assert np.all(chosen >= 0.9 * probs.max(axis=1)), (
            f"at temperature 0.002 sample_text must pick the most probable next character "
            f"given the last {window} characters (all of them while the text is shorter); "
            f"after seed text {seed_text[:12]!r}..., generated character {worst} "
            f"({text[worst]!r}) has probability {chosen[worst]:.3f}, the best "
            f"{probs[worst].max():.3f}")
