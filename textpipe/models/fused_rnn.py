"""Masked LSTM and GRU recurrences on each backend's fastest kernel, with Keras's weights.

Keras 3 runs a fused recurrent kernel under a mask on one backend only (TensorFlow, with cuDNN,
on a GPU); elsewhere a mask sends an LSTM or GRU to the generic step-by-step loop, and on
PyTorch that loop is a Python `for` over the time steps even without a mask. textpipe's
sequences are right-padded (padding id 0 at the end of each row), so a mask is fully described
by each row's length, which is what the fused kernels take:

- PyTorch on a GPU: `torch.nn.utils.rnn.pack_padded_sequence` into `torch._VF.lstm`/`gru`,
  the function behind `torch.nn.LSTM`/`GRU` (cuDNN stops each row at its length).
- PyTorch on a CPU: the same function over every step of every row, unpacked, each row's
  results taken at its length: only unpacked input reaches oneDNN's fused LSTM kernel (packed
  input falls back to ATen's per-step loop, ~4x slower forward and backward). An LSTM that
  returns its states runs packed: its cell state at each row's length is not in the unpacked
  output. Unmasked input takes the unpacked kernel everywhere.
- JAX on a GPU: `jax.experimental.rnn.lstm` (cuDNN) with each row's length (LSTM only; a GRU
  takes the scan below).
- A GRU on a JAX GPU: the generic loop run *unmasked* over the rows with their real steps
  moved to the front, the carried state recorded at every step and the one at each row's last
  real step picked out afterwards (as `jax.experimental.rnn`'s own reference implementation
  does): no per-step `where`.
- An LSTM on a TensorFlow CPU: TensorFlow's fused LSTM op, `BlockLSTM` (`tf_block_lstm`), over
  every step of every row up to the longest, each row's results taken at its length, the
  batch split into one part per core (the op runs on one); masked or not. It has no XLA
  form: `train` compiles recurrent models with XLA on a TensorFlow CPU only for rows shorter
  than 128 steps, where XLA measured faster, and an LSTM traced under XLA takes the loop below.
- A masked GRU (or LSTM under XLA) on a TensorFlow CPU: Keras's own masked loop
  (`backend.rnn`, which takes any mask), with every step's input product done before it in
  one matrix product (`hoisted_recurrence`): 0.76-0.89x the time of Keras's loop, where the
  cells do that product at every step.
- JAX on a CPU: Keras's own masked loop, which measured within this machine's spread of its
  unmasked one there (0.89-1.19x for an LSTM), and faster than both loops above.
- TensorFlow on a GPU: Keras's own cuDNN path, which already takes right-padded masks.

Any mask works: for the torch, BlockLSTM, cuDNN and scan kernels each row's real steps are
moved to its front (a right-padded row stays as it is), the kernel runs over them, and the
outputs are put back at their steps; a backward layer does the same over the reversed steps.
The hoisted loop takes the mask as Keras's loop does.

The results follow Keras's conventions for a masked layer exactly (tests compare against it):
outputs at padded steps are zeros (or, forward with `zero_output_for_mask=False`, the last real
output), a backward layer returns its outputs in reversed time order, and a row with no real
step returns zeros and its initial state.

Weights are never converted in place: each call reads the Keras variables (kernel `[input,
gates * units]`, recurrent kernel `[units, gates * units]`, bias) and builds the kernel's layout
from them, so gradients reach the Keras variables and a `.keras` file keeps Keras's layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
from keras import ops


def lengths_from_mask(mask: Any) -> Any:
    """Each row's number of real steps, int32 `(batch,)`."""
    return ops.sum(ops.cast(mask, "int32"), axis=1)


def real_steps_first(sequences: Any, mask: Any) -> tuple[Any, Any]:
    """Moves each row's real steps to its front, in order, and its masked steps after them.

    Right-padded rows come back as they are; any other mask (left padding, holes) becomes right
    padding, which is all the fused kernels take.

    Returns:
        `(moved, lengths)`: the sequences with real steps first, and int32 `(batch,)` lengths.
    """
    steps = ops.arange(ops.shape(mask)[1], dtype="int32")[None, :]
    mask = ops.cast(mask, "bool")
    # Real steps sort by position, masked ones by position after every real one.
    order = ops.argsort(ops.where(mask, steps, steps + ops.shape(mask)[1]), axis=1)
    return _take_steps(sequences, order), lengths_from_mask(mask)


def is_right_padded(mask: Any) -> bool:
    """Whether every row's real steps come first (no real step after a masked one).

    Reads the mask's values, so only for eager tensors on the host (PyTorch on a CPU), where
    that costs no device synchronisation and no graph trace.
    """
    mask = ops.cast(mask, "bool")
    return not bool(ops.any(ops.logical_and(mask[:, 1:], ops.logical_not(mask[:, :-1]))))


def at_mask_steps(
    processed: Any, mask: Any, *, zero_output_for_mask: bool, right_padded: bool = False
) -> Any:
    """Places outputs computed over `real_steps_first` rows back at their steps, as Keras does.

    Keras's masked loop outputs, at a masked step, zeros (`zero_output_for_mask`) or the output
    of the last real step before it (zeros before the first).

    Args:
        processed: `(batch, steps, units)`: at `k`, the output after the row's `k + 1`-th real
            step.
        mask: The mask the rows were moved by.
        zero_output_for_mask: Zeros at masked steps rather than the last real output.
        right_padded: The mask is right padding (`is_right_padded`), so the rows were not
            moved, and no gather is needed to put them back.

    Returns:
        `(batch, steps, units)`, in the mask's step order.
    """
    mask = ops.cast(mask, "bool")
    if right_padded:
        real = ops.expand_dims(mask, -1)
        if zero_output_for_mask:
            return ops.where(real, processed, ops.zeros_like(processed))
        # every masked step follows the last real one; a row of length 0 gets zeros
        lengths = lengths_from_mask(mask)
        batch, _, units = ops.shape(processed)
        last_index = ops.reshape(ops.maximum(lengths - 1, 0), (-1, 1, 1))
        last = ops.take_along_axis(
            processed, ops.broadcast_to(last_index, (batch, 1, units)), axis=1
        )
        last = ops.where(ops.reshape(lengths > 0, (-1, 1, 1)), last, ops.zeros_like(last))
        return ops.where(real, processed, last)
    # Which real step each step's output comes from: the last real one at or before it.
    source = ops.cumsum(ops.cast(mask, "int32"), axis=1) - 1
    outputs = _take_steps(processed, ops.maximum(source, 0))
    keep = mask if zero_output_for_mask else source >= 0
    return ops.where(ops.expand_dims(keep, -1), outputs, ops.zeros_like(outputs))


def _take_steps(sequences: Any, indices: Any) -> Any:
    """`sequences[b, indices[b, t]]` for `(batch, steps, features)` sequences; every index in
    `[0, steps)` (TensorFlow's gather on a CPU refuses others, where Keras's wraps negatives)."""
    if keras.backend.backend() == "torch":
        import torch

        # Keras's take_along_axis materialises the broadcast indices (to wrap negative ones):
        # twice the time of a gather through an expanded view, forward and backward.
        expanded = indices.to(torch.int64).unsqueeze(-1).expand(-1, -1, sequences.shape[-1])
        return torch.gather(sequences, 1, expanded)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # As on torch: `take_along_axis` over broadcast indices made an imdb-lstm epoch on
        # the fused op 1.7x slower (BENCHMARKS.md).
        return tf.gather(sequences, indices, axis=1, batch_dims=1)
    indices = ops.broadcast_to(ops.expand_dims(indices, -1), ops.shape(sequences))
    return ops.take_along_axis(sequences, indices, axis=1)


def _for_empty_rows(lengths: Any, value: Any, empty_value: Any) -> Any:
    """`value`, except `empty_value` in rows of length 0."""
    has_steps = ops.reshape(lengths > 0, (-1,) + (1,) * (len(value.shape) - 1))
    return ops.where(has_steps, value, empty_value)


# --------------------------------------------------------------------------------------------
# PyTorch: packed sequences into the fused kernel.
# --------------------------------------------------------------------------------------------


def torch_weights(cell_type: str, kernel: Any, recurrent_kernel: Any, bias: Any) -> list[Any]:
    """Keras LSTM/GRU weights as `torch._VF.lstm`/`gru` takes them: `[w_ih, w_hh, b_ih, b_hh]`.

    LSTM: Keras's gate order i, f, c, o is torch's i, f, g, o; torch adds two biases, so the
    Keras bias is `b_ih` and `b_hh` is zero. GRU (`reset_after=True`, Keras's default and
    cuDNN's formulation): Keras's z, r, h become torch's r, z, n, and the `[2, 3 * units]` bias
    holds the input bias and the recurrent bias.
    """
    import torch

    if cell_type == "lstm":
        return [kernel.T, recurrent_kernel.T, bias, torch.zeros_like(bias)]

    def reorder(matrix: Any) -> Any:
        update, reset, candidate = torch.chunk(matrix, 3, dim=-1)
        return torch.cat([reset, update, candidate], dim=-1)

    return [reorder(kernel).T, reorder(recurrent_kernel).T, reorder(bias[0]), reorder(bias[1])]


def torch_recurrence(
    cell_type: str,
    sequences: Any,
    initial_state: list[Any],
    lengths: Any | None,
    weights: list[Any],
    *,
    training: bool,
    packed: bool = True,
) -> tuple[Any, Any, list[Any]]:
    """Runs `torch._VF.lstm`/`gru` over each row's first `length` steps.

    Args:
        cell_type: "lstm" or "gru".
        sequences: `(batch, steps, features)`, real steps first in each row.
        initial_state: `[h, c]` (LSTM) or `[h]` (GRU), each `(batch, units)`.
        lengths: int `(batch,)`, or None for every step of every row.
        weights: From `torch_weights`.
        training: Passed to the kernel (it keeps what the backward pass needs).
        packed: With `lengths`, run packed sequences (each row stops at its length), rather
            than every step of every row, with each row's results taken at its length. On a
            CPU the second is ~4x faster for an LSTM: only unpacked input reaches oneDNN's
            fused kernel, packed input takes ATen's per-step loop. Unpacked, an LSTM's final
            cell state is not known at each row's length: the `c` returned is the state after
            the last step of all, which is right only for full-length rows, so a layer that
            returns its states must run packed.

    Returns:
        `(processed, last_output, states)`: outputs in processing order, zeros after each row's
        length (with `packed=False`, what the kernel computed there: callers mask them, as
        `at_mask_steps` does); the output after each row's last real step; the final states.
        Rows of length 0 give zeros and their initial state.
    """
    import torch
    from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

    kernel = torch._VF.lstm if cell_type == "lstm" else torch._VF.gru
    hidden = [state.unsqueeze(0) for state in initial_state]
    hx = tuple(hidden) if cell_type == "lstm" else hidden[0]
    # Positional flags: has_biases, num_layers, dropout, train, bidirectional.
    flags = (True, 1, 0.0, training, False)
    if lengths is None or not packed:
        processed, *final = kernel(sequences, hx, weights, *flags, True)  # batch_first
        final = [state.squeeze(0) for state in final]
        if lengths is None:
            return processed, final[0], final
        return _at_lengths(processed, final, initial_state, lengths)

    # pack_padded_sequence takes lengths on the CPU and refuses 0; rows of length 0 run one
    # step here and are reset below.
    packed = pack_padded_sequence(
        sequences,
        torch.clamp(lengths, min=1).to("cpu", torch.int64),
        batch_first=True,
        enforce_sorted=False,
    )
    order, unorder = packed.sorted_indices, packed.unsorted_indices
    sorted_hidden = [state.index_select(1, order) for state in hidden]
    hx = tuple(sorted_hidden) if cell_type == "lstm" else sorted_hidden[0]
    data, *final = kernel(packed.data, packed.batch_sizes, hx, weights, *flags)
    processed, _ = pad_packed_sequence(
        PackedSequence(data, packed.batch_sizes, order, unorder),
        batch_first=True,
        total_length=sequences.shape[1],
    )
    final = [
        _for_empty_rows(lengths, state.index_select(1, unorder).squeeze(0), initial)
        for state, initial in zip(final, initial_state, strict=True)
    ]
    last_output = _for_empty_rows(lengths, final[0], torch.zeros_like(final[0]))
    return processed, last_output, final


def _at_lengths(
    processed: Any, final: list[Any], initial_state: list[Any], lengths: Any
) -> tuple[Any, Any, list[Any]]:
    """`torch_recurrence`'s results from a run over every step of every row: the output at
    each row's last real step is its last output and its final `h`."""
    import torch

    last_index = torch.clamp(lengths - 1, min=0).to(processed.device, torch.int64)
    last_output = processed[torch.arange(processed.shape[0], device=processed.device), last_index]
    h = _for_empty_rows(lengths, last_output, initial_state[0])
    last_output = _for_empty_rows(lengths, last_output, torch.zeros_like(last_output))
    return processed, last_output, [h, *final[1:]]


# --------------------------------------------------------------------------------------------
# JAX on a GPU: cuDNN through jax.experimental.rnn, with each row's length.
# --------------------------------------------------------------------------------------------


def jax_cudnn_lstm_weights(kernel: Any, recurrent_kernel: Any, bias: Any) -> Any:
    """Keras LSTM weights as `jax.experimental.rnn.lstm` takes them: one flat cuDNN vector.

    cuDNN's layout is `[w_ih, w_hh, b_ih, b_hh]`, each row-major, with torch's gate order
    (i, f, g, o), which is Keras's.
    """
    import jax.numpy as jnp

    return jnp.concatenate(
        [kernel.T.ravel(), recurrent_kernel.T.ravel(), bias, jnp.zeros_like(bias)]
    )


def jax_cudnn_lstm(
    sequences: Any,
    initial_state: list[Any],
    lengths: Any,
    weights: Any,
    *,
    units: int,
    lstm: Callable[..., Any] | None = None,
) -> tuple[Any, Any, list[Any]]:
    """Runs `jax.experimental.rnn.lstm` (cuDNN) over each row's first `length` steps.

    Args:
        sequences: `(batch, steps, features)`, real steps first in each row.
        initial_state: `[h, c]`, each `(batch, units)`.
        lengths: int32 `(batch,)`.
        weights: From `jax_cudnn_lstm_weights`.
        units: The LSTM's width.
        lstm: The kernel, `jax.experimental.rnn.lstm` unless given (tests pass its reference
            implementation, which runs on a CPU).

    Returns:
        As `torch_recurrence`.
    """
    import jax.numpy as jnp

    if lstm is None:
        from jax.experimental.rnn import lstm
    h, c = (state[jnp.newaxis] for state in initial_state)
    # cuDNN fails on rows of length 0; they run one step and are reset below.
    processed, h_n, c_n = lstm(
        sequences,
        h,
        c,
        weights,
        jnp.maximum(lengths, 1).astype("int32"),
        input_size=sequences.shape[-1],
        hidden_size=units,
        num_layers=1,
        dropout=0.0,
        bidirectional=False,
    )
    final = [
        _for_empty_rows(lengths, state[0], initial)
        for state, initial in zip((h_n, c_n), initial_state, strict=True)
    ]
    processed = _for_empty_rows(lengths, processed, jnp.zeros_like(processed))
    return processed, _for_empty_rows(lengths, final[0], jnp.zeros_like(final[0])), final


# --------------------------------------------------------------------------------------------
# Any backend: the unmasked loop over the real steps, the final state picked out afterwards.
# --------------------------------------------------------------------------------------------


def scan_recurrence(
    cell: Any,
    sequences: Any,
    initial_state: list[Any],
    lengths: Any,
    *,
    training: bool,
) -> tuple[Any, Any, list[Any]]:
    """Runs Keras's generic loop without a mask and picks each row's state at its length.

    The loop carries the padding steps after each row's real ones too; their results are
    discarded, so they cost time but not correctness (the gradient through them is zero).

    Args:
        cell: The layer's `LSTMCell` or `GRUCell`; its output is its first state.
        sequences: `(batch, steps, features)`, real steps first in each row.
        initial_state: The cell's states, each `(batch, units)`.
        lengths: int32 `(batch,)`.
        training: Passed to the cell.

    Returns:
        As `torch_recurrence`.
    """
    from keras.src import backend  # the backend's generic loop, as `keras.layers.RNN` runs it

    widths = [int(state.shape[-1]) for state in initial_state]

    def step(inputs: Any, states: list[Any]) -> tuple[Any, list[Any]]:
        _, new_states = cell(inputs, states, training=training)
        new_states = list(new_states) if isinstance(new_states, list | tuple) else [new_states]
        # Every state at every step, so that each row's final state can be picked out.
        return ops.concatenate(new_states, axis=-1), new_states

    _, carried, _ = backend.rnn(
        step,
        sequences,
        list(initial_state),
        mask=None,
        input_length=sequences.shape[1],
        return_all_outputs=True,
    )
    last_index = ops.maximum(lengths - 1, 0)
    at_last = ops.take_along_axis(
        carried,
        ops.broadcast_to(last_index[:, None, None], (ops.shape(carried)[0], 1, sum(widths))),
        axis=1,
    )[:, 0]
    final, start = [], 0
    for width, initial in zip(widths, initial_state, strict=True):
        final.append(_for_empty_rows(lengths, at_last[:, start : start + width], initial))
        start += width
    processed = carried[..., : widths[0]]
    return processed, _for_empty_rows(lengths, final[0], ops.zeros_like(final[0])), final


# --------------------------------------------------------------------------------------------
# TensorFlow on a CPU: the fused LSTM kernel (`BlockLSTM`) over every step of every row.
# --------------------------------------------------------------------------------------------


def _icfo(matrix: Any) -> Any:
    """Keras's LSTM gate order (i, f, c, o) as `BlockLSTM` takes it (i, c, f, o)."""
    import tensorflow as tf

    input_gate, forget_gate, candidate, output_gate = tf.split(matrix, 4, axis=-1)
    return tf.concat([input_gate, candidate, forget_gate, output_gate], axis=-1)


def tf_block_lstm(
    sequences: Any,
    initial_state: list[Any],
    lengths: Any | None,
    weights: list[Any],
    *,
    shards: int | None = None,
) -> tuple[Any, Any, list[Any]]:
    """Runs TensorFlow's fused CPU LSTM kernel (`BlockLSTM`) over each row's first steps.

    One op runs the whole sequence, forward and backward (`BlockLSTMGrad`), instead of a
    `while` loop of small ops. It takes no per-row lengths, only the longest (steps after it
    give zeros), so each row's results are taken at its length, as `torch_recurrence` does
    unpacked; the kernel also returns the cell state at every step, so the final `c` is right
    for every row. `BlockLSTMV2` takes Keras's gate order but its registered gradient is wrong
    in TensorFlow 2.21 (it disagrees with finite differences), hence `BlockLSTM` with the gates
    reordered, no forget bias and no clipping. The op runs on one core: the rows are split into
    `shards` parts (default: one per core) that TensorFlow runs side by side.

    Args:
        sequences: `(batch, steps, features)`, real steps first in each row.
        initial_state: `[h, c]`, each `(batch, units)`.
        lengths: int `(batch,)`, or None for every step of every row.
        weights: Keras's kernel, recurrent kernel and bias.
        shards: Parts of the batch run as separate ops.

    Returns:
        As `torch_recurrence`: outputs in processing order (zeros after the longest row, and
        what the kernel computed after shorter rows' lengths: callers mask them), the output
        after each row's last real step, and the final `[h, c]`.
    """
    import tensorflow as tf

    kernel, recurrent_kernel, bias = weights
    fused_weights = _icfo(tf.concat([kernel, recurrent_kernel], axis=0))
    fused_bias = _icfo(bias)
    batch = tf.shape(sequences)[0]
    if lengths is None:
        lengths = tf.fill([batch], tf.shape(sequences)[1])
    lengths = tf.cast(lengths, tf.int32)
    if not shards:
        from textpipe.textops import default_threads  # the cores this process may use

        shards = default_threads()
    processed, final_h, final_c = [], [], []
    for shard in range(shards):
        # rows [batch * shard // shards, batch * (shard + 1) // shards): any batch size
        begin, end = batch * shard // shards, batch * (shard + 1) // shards
        part = [value[begin:end] for value in (sequences, lengths, *initial_state)]
        outputs, h, c = _block_lstm_rows(*part, fused_weights, fused_bias)
        processed.append(outputs)
        final_h.append(h)
        final_c.append(c)
    processed = tf.concat(processed, axis=0)
    final = [tf.concat(final_h, axis=0), tf.concat(final_c, axis=0)]
    last_output = _for_empty_rows(lengths, final[0], tf.zeros_like(final[0]))
    return processed, last_output, final


def _block_lstm_rows(
    sequences: Any, lengths: Any, h: Any, c: Any, weights: Any, bias: Any
) -> tuple[Any, Any, Any]:
    """`BlockLSTM` over some rows: every step's `h`, and `h` and `c` at each row's length."""
    import tensorflow as tf

    no_peephole = tf.zeros_like(bias[: tf.shape(h)[1]])
    _, cells, _, _, _, _, outputs = tf.raw_ops.BlockLSTM(
        seq_len_max=tf.cast(tf.reduce_max(tf.concat([lengths, [1]], axis=0)), tf.int64),
        x=tf.transpose(sequences, [1, 0, 2]),
        cs_prev=c,
        h_prev=h,
        w=weights,
        wci=no_peephole,
        wcf=no_peephole,
        wco=no_peephole,
        b=bias,
        forget_bias=0.0,
        cell_clip=-1.0,
        use_peephole=False,
    )
    at_last = tf.stack([tf.maximum(lengths - 1, 0), tf.range(tf.shape(lengths)[0])], axis=1)
    final_h = _for_empty_rows(lengths, tf.gather_nd(outputs, at_last), h)
    final_c = _for_empty_rows(lengths, tf.gather_nd(cells, at_last), c)
    return tf.transpose(outputs, [1, 0, 2]), final_h, final_c


# --------------------------------------------------------------------------------------------
# Any backend: Keras's masked loop with the input projection taken out of it.
# --------------------------------------------------------------------------------------------


def hoisted_recurrence(
    cell_type: str,
    sequences: Any,
    initial_state: list[Any],
    mask: Any,
    weights: list[Any],
    *,
    go_backwards: bool,
    zero_output_for_mask: bool,
    return_all_outputs: bool,
) -> tuple[Any, Any, list[Any]]:
    """Keras's masked loop (`backend.rnn`) with every step's input projection done at once.

    Keras's LSTM and GRU cells multiply each step's input by the kernel inside the loop; here
    one matrix product over all steps does it before the loop, which is left with the
    recurrent product and the gates. Same mask handling, so the same results as Keras's layer.

    Args:
        cell_type: "lstm" or "gru" (`reset_after=True`); tanh and sigmoid activations.
        sequences: `(batch, steps, features)`.
        initial_state: `[h, c]` (LSTM) or `[h]` (GRU).
        mask: `(batch, steps)` booleans, or None.
        weights: The cell's kernel, recurrent kernel and bias, in Keras's layout.
        go_backwards, zero_output_for_mask, return_all_outputs: As in `backend.rnn`.

    Returns:
        `(last_output, outputs, states)`, as `keras.layers.RNN.inner_loop` returns them.
    """
    from keras.src import backend

    kernel, recurrent_kernel, bias = weights
    input_bias, recurrent_bias = (bias, None) if cell_type == "lstm" else (bias[0], bias[1])
    projected = ops.matmul(sequences, kernel) + input_bias

    def lstm_step(inputs: Any, states: list[Any]) -> tuple[Any, list[Any]]:
        h, c = states
        gates = inputs + ops.matmul(h, recurrent_kernel)
        input_gate, forget_gate, candidate, output_gate = ops.split(gates, 4, axis=-1)
        c = ops.sigmoid(forget_gate) * c + ops.sigmoid(input_gate) * ops.tanh(candidate)
        h = ops.sigmoid(output_gate) * ops.tanh(c)
        return h, [h, c]

    def gru_step(inputs: Any, states: list[Any]) -> tuple[Any, list[Any]]:
        (h,) = states
        recurrent = ops.matmul(h, recurrent_kernel) + recurrent_bias
        x_update, x_reset, x_candidate = ops.split(inputs, 3, axis=-1)
        r_update, r_reset, r_candidate = ops.split(recurrent, 3, axis=-1)
        update = ops.sigmoid(x_update + r_update)
        reset = ops.sigmoid(x_reset + r_reset)
        candidate = ops.tanh(x_candidate + reset * r_candidate)
        h = update * h + (1 - update) * candidate
        return h, [h]

    return backend.rnn(
        lstm_step if cell_type == "lstm" else gru_step,
        projected,
        list(initial_state),
        go_backwards=go_backwards,
        mask=mask,
        input_length=sequences.shape[1],
        zero_output_for_mask=zero_output_for_mask,
        return_all_outputs=return_all_outputs,
    )
