"""FusedLSTM and FusedGRU give Keras's own masked results, on whichever backend runs the tests.

`make test` runs this file on TensorFlow, JAX and PyTorch. Each backend takes its own kernel
(`textpipe.models.layers.recurrence_kernel`); the tests that name a kernel force it where it
can run on a CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from textpipe.models import build_model, fused_rnn
from textpipe.models import layers as zoo_layers
from textpipe.models.layers import FusedGRU, FusedLSTM

BACKEND = keras.backend.backend()
FUSED = {"lstm": FusedLSTM, "gru": FusedGRU}
KERAS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
# Full-length, length-1, length-0 (all padding) and in-between rows.
LENGTHS = [7, 1, 3, 0, 5, 2]
STEPS, FEATURES, UNITS = 7, 5, 4


def _numpy(value) -> np.ndarray:
    return keras.ops.convert_to_numpy(value)


def _right_padded() -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(0)
    sequences = generator.normal(size=(len(LENGTHS), STEPS, FEATURES)).astype("float32")
    mask = np.arange(STEPS)[None, :] < np.array(LENGTHS)[:, None]
    return sequences, mask


def _pair(cell_type: str, **options) -> tuple[keras.layers.Layer, keras.layers.Layer]:
    """A Keras layer and a fused one with the same (random, not initial) weights."""
    sequences, mask = _right_padded()
    reference = KERAS[cell_type](UNITS, **options)
    fused = FUSED[cell_type](UNITS, **options)
    reference(sequences, mask=mask)
    fused(sequences, mask=mask)
    generator = np.random.default_rng(1)
    weights = [generator.normal(size=w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    fused.set_weights(weights)
    return reference, fused


LAYER_OPTIONS = [
    {
        "return_sequences": return_sequences,
        "go_backwards": go_backwards,
        "zero_output_for_mask": zero,
    }
    for return_sequences in (True, False)
    for go_backwards in (False, True)
    for zero in (False, True)
]


def _options_id(options: dict) -> str:
    return "-".join(
        [
            "sequences" if options["return_sequences"] else "last",
            "backward" if options["go_backwards"] else "forward",
            "zero" if options["zero_output_for_mask"] else "carry",
        ]
    )


@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=_options_id)
@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_fused_layer_gives_keras_masked_results(cell_type, options):
    sequences, mask = _right_padded()
    reference, fused = _pair(cell_type, return_state=True, **options)

    expected = reference(sequences, mask=mask)
    got = fused(sequences, mask=mask)

    # The output, then the final states (h, and c for an LSTM).
    assert len(got) == len(expected)
    for got_part, expected_part in zip(got, expected, strict=True):
        np.testing.assert_allclose(_numpy(got_part), _numpy(expected_part), atol=1e-5)


@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_rows_of_length_zero_give_zeros(cell_type):
    sequences, mask = _right_padded()
    _, fused = _pair(cell_type, return_sequences=True)

    outputs = _numpy(fused(sequences, mask=mask))

    assert LENGTHS[3] == 0
    np.testing.assert_array_equal(outputs[3], 0)
    assert np.abs(outputs[0]).min() > 0  # a full row has no zero output


@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_unmasked_input_gives_keras_results(cell_type):
    sequences, _ = _right_padded()
    for go_backwards in (False, True):
        reference, fused = _pair(cell_type, return_sequences=True, go_backwards=go_backwards)

        np.testing.assert_allclose(
            _numpy(fused(sequences)), _numpy(reference(sequences)), atol=1e-5
        )


@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_any_mask_gives_keras_results(cell_type):
    """Left padding and holes are moved to the end of each row before the fused kernel."""
    sequences, mask = _right_padded()
    left_padded = mask[:, ::-1].copy()
    holes = mask.copy()
    holes[0, [1, 4]] = False
    holes[4, 0] = False
    for options in LAYER_OPTIONS:
        reference, fused = _pair(cell_type, **options)
        for each in (left_padded, holes):
            np.testing.assert_allclose(
                _numpy(fused(sequences, mask=each)),
                _numpy(reference(sequences, mask=each)),
                atol=1e-5,
                err_msg=_options_id(options),
            )


@pytest.mark.skipif(BACKEND == "torch", reason="torch always runs its own kernel")
@pytest.mark.parametrize("options", LAYER_OPTIONS[:4], ids=_options_id)
@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_scan_kernel_gives_keras_masked_results(cell_type, options, monkeypatch):
    # The scan runs by itself only on a JAX GPU (a GRU); forced here on TensorFlow and JAX.
    monkeypatch.setattr(zoo_layers, "recurrence_kernel", lambda *_, **__: "scan")
    sequences, mask = _right_padded()
    reference, fused = _pair(cell_type, **options)

    np.testing.assert_allclose(
        _numpy(fused(sequences, mask=mask)), _numpy(reference(sequences, mask=mask)), atol=1e-5
    )


@pytest.mark.skipif(BACKEND != "jax", reason="jax.experimental.rnn is JAX's")
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
def test_jax_cudnn_weights_and_lengths_against_its_reference(go_backwards, monkeypatch):
    """The cuDNN call itself needs a GPU; its reference implementation checks what we pass."""
    import jax.experimental.rnn as jax_rnn

    def reference_lstm(x, h_0, c_0, weights, seq_lengths, **sizes):
        unpacked = jax_rnn.unpack_lstm_weights(
            weights, sizes["input_size"], sizes["hidden_size"], 1, False
        )
        return jax_rnn.lstm_ref(x, h_0, c_0, *unpacked, seq_lengths, **sizes)

    monkeypatch.setattr(jax_rnn, "lstm", reference_lstm)
    monkeypatch.setattr(zoo_layers, "recurrence_kernel", lambda *_, **__: "jax-cudnn")
    sequences, mask = _right_padded()
    for return_sequences in (True, False):
        reference, fused = _pair(
            "lstm", return_sequences=return_sequences, go_backwards=go_backwards
        )

        np.testing.assert_allclose(
            _numpy(fused(sequences, mask=mask)),
            _numpy(reference(sequences, mask=mask)),
            atol=1e-5,
        )


def _with_keras_layers(model: keras.Model) -> keras.Model:
    """The same model with Keras's own LSTM/GRU layers, and the same weights."""

    def plain(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.Bidirectional):
            inner = layer.forward_layer
            return keras.layers.Bidirectional(
                KERAS[_cell_type(inner)].from_config(inner.get_config()),
                merge_mode=layer.merge_mode,
                name=layer.name,
            )
        if isinstance(layer, FusedLSTM | FusedGRU):
            return KERAS[_cell_type(layer)].from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    clone = keras.models.clone_model(model, clone_function=plain)
    clone.set_weights(model.get_weights())
    assert not any(isinstance(inner, FusedLSTM | FusedGRU) for inner in _recurrent_layers(clone))
    return clone


def _cell_type(layer: keras.layers.Layer) -> str:
    return "lstm" if isinstance(layer, keras.layers.LSTM) else "gru"


def _recurrent_layers(model: keras.Model) -> list[keras.layers.Layer]:
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            found += [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, keras.layers.RNN):
            found.append(layer)
    return found


def _token_rows() -> np.ndarray:
    rows = [list(range(2, 18)), [7], [3, 4, 5], [], [9, 8, 7, 6, 5, 4, 3, 2, 11, 12]]
    ids = np.zeros((len(rows), 16), dtype="int32")
    for index, row in enumerate(rows):
        ids[index, : len(row)] = row
    return ids


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("name", ["lstm", "bilstm", "gru", "bigru"])
def test_zoo_model_predicts_and_trains_as_with_keras_layers(name, pooling):
    model = build_model(
        name, vocab_size=50, length=16, num_classes=2, embedding_dim=8, units=8, pooling=pooling
    )
    reference = _with_keras_layers(model)
    token_ids = _token_rows()
    labels = np.array([1, 0, 1, 0, 1], dtype="float32").reshape(-1, 1)

    np.testing.assert_allclose(
        _numpy(model(token_ids, training=False)),
        _numpy(reference(token_ids, training=False)),
        atol=1e-5,
    )

    # One SGD step each: equal weights after it means equal gradients. With XLA and without
    # on TensorFlow (an LSTM runs a different kernel under each), with XLA on JAX, eager torch.
    start = model.get_weights()
    for jit_compile in {"tensorflow": (True, False), "jax": (True,)}.get(BACKEND, (False,)):
        for each in (model, reference):
            each.set_weights(start)
            each.compile(
                optimizer=keras.optimizers.SGD(learning_rate=0.5),
                loss=keras.losses.BinaryCrossentropy(from_logits=True),
                jit_compile=jit_compile,
            )
            each.train_on_batch(token_ids, labels)
        for got, expected, variable in zip(
            model.get_weights(), reference.get_weights(), model.weights, strict=True
        ):
            np.testing.assert_allclose(
                got, expected, atol=1e-5, err_msg=f"{variable.path}, XLA {jit_compile}"
            )


@pytest.mark.slow
def test_a_model_saved_on_one_backend_predicts_the_same_on_the_others(tmp_path):
    model = build_model("bigru", vocab_size=50, length=16, num_classes=2, embedding_dim=8, units=8)
    path = tmp_path / "m.keras"
    model.save(path)
    token_ids = _token_rows()
    np.save(tmp_path / "ids.npy", token_ids)
    np.save(tmp_path / "expected.npy", _numpy(model(token_ids, training=False)))
    check = textwrap.dedent(
        f"""
        import keras, numpy as np
        from textpipe.models import load_model
        model = load_model({str(path)!r})
        got = keras.ops.convert_to_numpy(model(np.load({str(tmp_path / "ids.npy")!r})))
        np.testing.assert_allclose(got, np.load({str(tmp_path / "expected.npy")!r}), atol=1e-5)
        """
    )
    for backend in ("tensorflow", "jax", "torch"):
        if backend == BACKEND:
            continue
        pytest.importorskip(backend)
        subprocess.run(
            [sys.executable, "-c", check], check=True, env={**os.environ, "KERAS_BACKEND": backend}
        )


def test_real_steps_first_and_back():
    steps = np.broadcast_to(np.arange(1, 6, dtype="float32")[None, :, None], (2, 5, 1))
    mask = np.array([[False, True, False, True, True], [True, True, False, False, False]])

    moved, lengths = fused_rnn.real_steps_first(keras.ops.convert_to_tensor(steps), mask)
    carried = fused_rnn.at_mask_steps(moved, mask, zero_output_for_mask=False)
    zeroed = fused_rnn.at_mask_steps(moved, mask, zero_output_for_mask=True)

    np.testing.assert_array_equal(_numpy(lengths), [3, 2])
    np.testing.assert_array_equal(_numpy(moved)[:, :, 0], [[2, 4, 5, 1, 3], [1, 2, 3, 4, 5]])
    # Before the first real step: zeros; at a masked step after one: the last real output.
    np.testing.assert_array_equal(_numpy(carried)[:, :, 0], [[0, 2, 2, 4, 5], [1, 2, 2, 2, 2]])
    np.testing.assert_array_equal(_numpy(zeroed)[:, :, 0], [[0, 2, 0, 4, 5], [1, 2, 0, 0, 0]])


def test_right_padded_shortcut_gives_the_general_result():
    sequences, mask = _right_padded()
    processed = keras.ops.convert_to_tensor(sequences)
    holes = mask.copy()
    holes[0, 1] = False

    assert fused_rnn.is_right_padded(mask)
    assert not fused_rnn.is_right_padded(mask[:, ::-1].copy())
    assert not fused_rnn.is_right_padded(holes)
    for zero in (False, True):
        np.testing.assert_array_equal(
            _numpy(fused_rnn.at_mask_steps(processed, mask, zero_output_for_mask=zero)),
            _numpy(
                fused_rnn.at_mask_steps(
                    processed, mask, zero_output_for_mask=zero, right_padded=True
                )
            ),
        )


def _torch_gradients(layer: keras.layers.Layer, sequences: np.ndarray, mask: np.ndarray) -> list:
    import torch

    inputs = torch.tensor(sequences, requires_grad=True)
    outputs = layer(inputs, mask=torch.tensor(mask))
    # a weighted sum, so that every output step and unit gets its own gradient
    weights = torch.tensor(np.random.default_rng(2).normal(size=tuple(outputs.shape)))
    (outputs * weights.to(outputs.dtype)).sum().backward()
    found = [inputs.grad.numpy()]
    for variable in layer.trainable_weights:
        found.append(variable.value.grad.numpy())
        variable.value.grad = None
    return found


@pytest.mark.skipif(BACKEND != "torch", reason="torch's two ways of running a mask")
@pytest.mark.parametrize("packed", [True, False], ids=["packed", "every-step"])
@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=_options_id)
@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_torch_packed_and_every_step_give_keras_outputs_and_gradients(
    cell_type, options, packed, monkeypatch
):
    """Packed sequences (a GPU; an LSTM returning its states) and every step with the results
    taken at each row's length (a CPU) both give Keras's masked outputs and gradients."""
    monkeypatch.setattr(zoo_layers, "_torch_packed", lambda *_: packed)
    sequences, mask = _right_padded()
    holes = mask.copy()
    holes[0, [1, 4]] = False
    for each in (mask, mask[:, ::-1].copy(), holes):
        reference, fused = _pair(cell_type, **options)
        np.testing.assert_allclose(
            _numpy(fused(sequences, mask=each)),
            _numpy(reference(sequences, mask=each)),
            atol=1e-5,
        )
        for got, expected in zip(
            _torch_gradients(fused, sequences, each),
            _torch_gradients(reference, sequences, each),
            strict=True,
        ):
            np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.skipif(BACKEND != "torch", reason="torch's choice of kernel")
@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_torch_cpu_runs_every_step_unless_an_lstm_returns_its_states(cell_type, monkeypatch):
    calls = []
    recurrence = fused_rnn.torch_recurrence

    def spy(*args, **kwargs):
        calls.append(kwargs["packed"])
        return recurrence(*args, **kwargs)

    monkeypatch.setattr(fused_rnn, "torch_recurrence", spy)
    sequences, mask = _right_padded()
    _, sequence_layer = _pair(cell_type, return_sequences=True)
    _, state_layer = _pair(cell_type, return_state=True)
    _, stateful_layer = _pair(cell_type, stateful=True)
    calls.clear()

    sequence_layer(sequences, mask=mask)
    state_layer(sequences, mask=mask)
    stateful_layer(sequences, mask=mask)

    # oneDNN's fused LSTM kernel takes unpacked input only; the cell state at each row's
    # length needs packed sequences
    assert calls == [False, cell_type == "lstm", cell_type == "lstm"]


@pytest.mark.skipif(BACKEND != "torch", reason="torch's choice of kernel for stateful layers")
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_torch_stateful_layers_carry_keras_states_between_calls(cell_type, go_backwards):
    sequences, mask = _right_padded()
    reference, fused = _pair(cell_type, stateful=True, go_backwards=go_backwards)
    reference.reset_state()
    fused.reset_state()

    # from the second call on, each call starts from the states the last one left
    for _ in range(3):
        np.testing.assert_allclose(
            _numpy(fused(sequences, mask=mask)),
            _numpy(reference(sequences, mask=mask)),
            atol=1e-5,
        )


@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=_options_id)
@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_hoisted_kernel_gives_keras_masked_results(cell_type, options, monkeypatch):
    """Keras's masked loop with the input product taken out of it: the same outputs and states,
    under right padding, left padding and holes."""
    monkeypatch.setattr(zoo_layers, "recurrence_kernel", lambda *_, **__: "hoisted")
    sequences, mask = _right_padded()
    holes = mask.copy()
    holes[0, [1, 4]] = False
    reference, fused = _pair(cell_type, return_state=True, **options)
    for each in (mask, mask[:, ::-1].copy(), holes):
        got, expected = fused(sequences, mask=each), reference(sequences, mask=each)
        for got_part, expected_part in zip(got, expected, strict=True):
            np.testing.assert_allclose(_numpy(got_part), _numpy(expected_part), atol=1e-5)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's choice of kernel")
def test_tensorflow_cpu_runs_lstms_on_its_fused_kernel_and_masked_grus_hoisted():
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        pytest.skip("a GPU: Keras's cuDNN kernel takes the mask")
    assert zoo_layers.recurrence_kernel("lstm", masked=True) == "tf-block"
    assert zoo_layers.recurrence_kernel("lstm", masked=False) == "tf-block"
    assert zoo_layers.recurrence_kernel("gru", masked=True) == "hoisted"
    assert zoo_layers.recurrence_kernel("gru", masked=False) is None


def _tensorflow_gradients(
    layer: keras.layers.Layer, sequences: np.ndarray, mask: np.ndarray | None
) -> list:
    import tensorflow as tf

    inputs = tf.constant(sequences)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        results = layer(inputs, mask=mask)
        results = results if isinstance(results, list | tuple) else [results]
        # a weighted sum, so that every output step, state and unit gets its own gradient
        generator = np.random.default_rng(2)
        total = sum(
            tf.reduce_sum(part * generator.normal(size=part.shape).astype("float32"))
            for part in results
        )
    return [_numpy(g) for g in tape.gradient(total, [inputs, *layer.trainable_weights])]


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's fused CPU LSTM kernel")
@pytest.mark.parametrize("shards", [1, 2, 4], ids=["1-shard", "2-shards", "4-shards"])
@pytest.mark.parametrize("options", LAYER_OPTIONS, ids=_options_id)
def test_tensorflow_block_kernel_gives_keras_outputs_states_and_gradients(
    options, shards, monkeypatch
):
    """`BlockLSTM` (its gates reordered) gives Keras's masked outputs, final states and
    gradients, under right padding, left padding, holes and no mask, with the batch of 6 rows
    split into 1, 2 or 4 parts (uneven ones included). Gradients are where a kernel with the
    wrong gate order or `BlockLSTMV2`'s gradient would fail."""
    monkeypatch.setattr(zoo_layers, "recurrence_kernel", lambda *_, **__: "tf-block")
    tf_block_lstm = fused_rnn.tf_block_lstm
    calls = []

    def sharded(*args, **kwargs):
        calls.append(shards)
        return tf_block_lstm(*args, **{**kwargs, "shards": shards})

    monkeypatch.setattr(fused_rnn, "tf_block_lstm", sharded)
    sequences, mask = _right_padded()
    holes = mask.copy()
    holes[0, [1, 4]] = False
    for each in (mask, mask[:, ::-1].copy(), holes, None):
        reference, fused = _pair("lstm", return_state=True, **options)
        for got, expected in zip(
            fused(sequences, mask=each), reference(sequences, mask=each), strict=True
        ):
            np.testing.assert_allclose(_numpy(got), _numpy(expected), atol=1e-5)
        for got, expected in zip(
            _tensorflow_gradients(fused, sequences, each),
            _tensorflow_gradients(reference, sequences, each),
            strict=True,
        ):
            np.testing.assert_allclose(got, expected, atol=1e-4)
    assert calls  # the block kernel ran


@pytest.mark.skipif(BACKEND != "tensorflow", reason="XLA and TensorFlow's fused CPU kernel")
def test_a_tensorflow_cpu_lstm_under_xla_runs_the_masked_loop_with_keras_results(monkeypatch):
    """`BlockLSTM` has no XLA form: traced under XLA, the layer takes the hoisted loop."""
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        pytest.skip("a GPU: cuDNN")
    chosen = []
    choose = zoo_layers.recurrence_kernel

    def spy(*args, **kwargs):
        chosen.append(choose(*args, **kwargs))
        return chosen[-1]

    monkeypatch.setattr(zoo_layers, "recurrence_kernel", spy)
    sequences, mask = _right_padded()
    reference, fused = _pair("lstm", return_sequences=True)
    chosen.clear()
    compiled = tf.function(lambda x, m: fused(x, mask=m), jit_compile=True)
    np.testing.assert_allclose(
        _numpy(compiled(sequences, mask)), _numpy(reference(sequences, mask=mask)), atol=1e-5
    )
    assert chosen == ["hoisted"]
    chosen.clear()
    tf.function(lambda x, m: fused(x, mask=m))(sequences, mask)
    assert chosen == ["tf-block"]
