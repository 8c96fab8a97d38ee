"""A custom model for textpipe: a hand-written recurrent cell, run by `keras.layers.RNN`.

Pass `examples/custom_cell.py:build` wherever textpipe takes a model name such as `lstm`:
`textpipe train ENCODED_DIR --model examples/custom_cell.py:build`, `model = "..."` in a
pipeline's `[train]` table, `--set train.model=examples/custom_cell.py:build` on
`textpipe run`, or from Python:

    from textpipe.models import build_model
    model = build_model("examples/custom_cell.py:build", vocab_size=20_000, length=256,
                        num_classes=2)

textpipe reads the model options `build` takes from its signature (here `embedding_dim` and
`units`: `--units 32` changes the model, `--kernel-size 3` is refused as an option it does not
use; a builder with `**kwargs` takes them all), loads this file as a module (once per process),
calls `build` with them, and trains, saves and evaluates the model like any zoo model. The
steps:

1. A cell is one step of a recurrence: given one token's vector and the state left by the
   previous token, it returns an output and the new state. `MinimalRNNCell` below is
   MinimalRNN (Chen, 2017, arXiv:1711.06788), about the smallest gated cell there is:

       candidate = tanh(W_x x_t + b_x)                       the token, projected
       update    = sigmoid(U_h h_{t-1} + U_z candidate + b_u)  how much of the past to keep
       h_t       = update * h_{t-1} + (1 - update) * candidate

   Keras needs four things from a cell: `state_size` and `output_size` (here both `units`),
   `build` (create the weights once the input width is known) and
   `call(inputs, states, training=None)` returning `(output, new_states)`.
2. `keras.layers.RNN(cell)` loops the cell over the steps. Because it follows
   `Embedding(mask_zero=True)`, it receives the padding mask and, at a padded step, keeps the
   previous state and output instead of the cell's new ones: the model's output is the state
   after the last real token, however much padding follows.
3. The head is the zoo's: Dense(units, relu), then one logit for 2 classes (binary
   cross-entropy from logits) or one logit per class for more.
4. `get_config` and `register_keras_serializable` let `keras.saving.load_model` rebuild the
   cell from a saved `.keras` file, provided this file has been loaded first (textpipe loads it
   from the model spec; elsewhere, import it before calling `load_model`).

Unlike the zoo's LSTM and GRU, a custom cell never runs on cuDNN: on a GPU it is much slower.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="textpipe_examples")
class MinimalRNNCell(keras.layers.Layer):
    """One step of MinimalRNN: a state updated by a single gate.

    Args:
        units: Width of the state and of the output.
        **kwargs: Passed to `keras.layers.Layer`.
    """

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        input_dim = input_shape[-1]
        self.input_kernel = self.add_weight(
            name="input_kernel", shape=(input_dim, self.units), initializer="glorot_uniform"
        )
        self.input_bias = self.add_weight(
            name="input_bias", shape=(self.units,), initializer="zeros"
        )
        self.recurrent_gate_kernel = self.add_weight(
            name="recurrent_gate_kernel", shape=(self.units, self.units), initializer="orthogonal"
        )
        self.candidate_gate_kernel = self.add_weight(
            name="candidate_gate_kernel",
            shape=(self.units, self.units),
            initializer="glorot_uniform",
        )
        self.gate_bias = self.add_weight(name="gate_bias", shape=(self.units,), initializer="zeros")

    def call(self, inputs: Any, states: Any, training: bool | None = None) -> tuple[Any, list[Any]]:
        # keras.layers.RNN passes the states as a list, one tensor per entry of state_size.
        previous = states[0] if isinstance(states, (list, tuple)) else states
        candidate = ops.tanh(ops.matmul(inputs, self.input_kernel) + self.input_bias)
        update = ops.sigmoid(
            ops.matmul(previous, self.recurrent_gate_kernel)
            + ops.matmul(candidate, self.candidate_gate_kernel)
            + self.gate_bias
        )
        state = update * previous + (1.0 - update) * candidate
        return state, [state]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


def build(
    *,
    vocab_size: int,
    length: int,
    num_classes: int,
    embedding_dim: int,
    units: int,
) -> keras.Model:
    """Builds Embedding(mask_zero) -> RNN(MinimalRNNCell) -> Dense(units, relu) -> logits.

    Args:
        vocab_size: Number of token ids, padding id 0 included.
        length: Ignored: the model accepts any number of steps.
        num_classes: 2 gives one logit, more give one logit per class.
        embedding_dim: Width of the token embedding.
        units: Width of the recurrent state and of the hidden Dense layer.

    Returns:
        An uncompiled `keras.Model` mapping `(batch, steps)` int32 token ids to logits.
    """
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    # mask_zero=True: id 0 is padding, and the mask it creates travels to the RNN layer.
    embedded = layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(
        token_ids
    )
    # Without return_sequences the RNN returns its output at the last real (unmasked) step.
    final_state = layers.RNN(MinimalRNNCell(units), name="minimal_rnn")(embedded)
    hidden = layers.Dense(units, activation="relu", name="hidden")(final_state)
    logits = layers.Dense(1 if num_classes == 2 else num_classes, name="logits")(hidden)
    return keras.Model(token_ids, logits, name="minimal_rnn")
