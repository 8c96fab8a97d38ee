"""Custom Keras layers of the zoo: masks, masked pooling, hashed bigrams, learned positions.

Every layer here is registered under the `textpipe` package, so a saved `.keras` file that uses
one loads with `keras.saving.load_model` once this module has been imported (importing any zoo
family module imports it).

Masks follow the Keras convention: a boolean tensor of shape `(batch, steps)`, true at real
tokens and false at padding (token id 0).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="textpipe")
class PaddingMask(keras.layers.Layer):
    """Computes the padding mask of token ids as a tensor, for layers past a mask-dropping one.

    Keras carries the mask of `Embedding(mask_zero=True)` from layer to layer only through layers
    that support masking; `Conv1D` does not. This layer makes the mask an explicit tensor that can
    be passed as `mask=` (pooling) or `attention_mask=` (attention) further down.

    Args:
        attention: When true, return shape `(batch, 1, steps)`: the attention mask under which every
            query attends to the real keys only. Masking the padded queries as well would leave
            their rows with nothing to attend to, which some attention kernels turn into NaN.
        **kwargs: Passed to `keras.layers.Layer`.
    """

    def __init__(self, attention: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attention = attention

    def call(self, token_ids: Any) -> Any:
        mask = ops.not_equal(token_ids, 0)
        if self.attention:
            mask = ops.expand_dims(mask, axis=1)
        return mask

    def compute_mask(self, token_ids: Any, mask: Any = None) -> None:
        return None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "attention": self.attention}


@keras.saving.register_keras_serializable(package="textpipe")
class ZeroMaskedSteps(keras.layers.Layer):
    """Sets the vectors at padded steps to zero and consumes the mask.

    Before a convolution with `padding="same"`, zeros at the padded steps look exactly like the
    convolution's own zero padding, so the real steps' outputs do not depend on how much padding
    follows. The mask is not passed on, because the layers this prepares for (`Conv1D`) drop it
    with a warning; pass a `PaddingMask` tensor explicitly to the layers after them.
    """

    def call(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            return inputs
        keep = ops.expand_dims(ops.cast(mask, "bool"), axis=-1)
        return ops.where(keep, inputs, ops.zeros_like(inputs))

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape


@keras.saving.register_keras_serializable(package="textpipe")
class MaskedMeanPooling(keras.layers.Layer):
    """Averages over the real steps: `(batch, steps, features) -> (batch, features)`.

    A sequence with no real step pools to zeros. Without a mask, averages over every step.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            return ops.mean(inputs, axis=1)
        keep = ops.expand_dims(ops.cast(mask, "bool"), axis=-1)
        # `where`, not multiplication by the mask: a NaN or inf at a padded step must not leak.
        total = ops.sum(ops.where(keep, inputs, ops.zeros_like(inputs)), axis=1)
        count = ops.sum(ops.cast(keep, inputs.dtype), axis=1)
        return total / ops.maximum(count, ops.ones_like(count))

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="textpipe")
class MaskedMaxPooling(keras.layers.Layer):
    """Takes the maximum over the real steps: `(batch, steps, features) -> (batch, features)`.

    A sequence with no real step pools to zeros. Without a mask, takes the maximum over every
    step.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None:
            return ops.max(inputs, axis=1)
        keep = ops.expand_dims(ops.cast(mask, "bool"), axis=-1)
        lowest = ops.full_like(inputs, float("-inf"))
        pooled = ops.max(ops.where(keep, inputs, lowest), axis=1)
        has_real_step = ops.any(keep, axis=1)
        return ops.where(has_real_step, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs: Any, mask: Any = None) -> None:
        return None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], input_shape[2])


PAIR_BASE = 46340  # floor(sqrt(2**31 - 1)): the pair index of two ids fits in int32


@keras.saving.register_keras_serializable(package="textpipe")
class HashedBigrams(keras.layers.Layer):
    """Maps token ids to hashed word-bigram ids, the fastText way.

    The bigram of tokens `a` then `b` gets id `1 + (a' * 46340 + b') mod num_buckets`, where
    `a' = a mod 46340` and `b' = b mod 46340`, so ids run from 1 to `num_buckets`; a bigram with
    padding on either side gets id 0, which a following `Embedding(num_buckets + 1, ...,
    mask_zero=True)` masks. The output has one step fewer than the input.

    46,340 is the largest base whose pair index stays inside int32, so the ids are the same on
    every backend (JAX has no int64 unless `jax_enable_x64` is set) and a model saved on one
    backend predicts the same on another. Up to 46,340 words the pair index is collision-free
    before the modulo, as with `a * vocab_size + b`; beyond, ids wrap, which hashing tolerates.

    Args:
        vocab_size: The size of the token vocabulary, padding id 0 included.
        num_buckets: How many distinct bigram ids to hash into.
        **kwargs: Passed to `keras.layers.Layer`.
    """

    def __init__(self, vocab_size: int, num_buckets: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.num_buckets = num_buckets

    def call(self, token_ids: Any) -> Any:
        first = token_ids[:, :-1]
        second = token_ids[:, 1:]
        base = PAIR_BASE
        pair = ops.mod(ops.cast(first, "int32"), base) * base + ops.mod(
            ops.cast(second, "int32"), base
        )
        bigram_ids = ops.mod(pair, self.num_buckets) + 1
        real = ops.logical_and(ops.not_equal(first, 0), ops.not_equal(second, 0))
        return ops.cast(ops.where(real, bigram_ids, ops.zeros_like(bigram_ids)), "int32")

    def compute_mask(self, token_ids: Any, mask: Any = None) -> None:
        return None

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "num_buckets": self.num_buckets,
        }


@keras.saving.register_keras_serializable(package="textpipe")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding of each step's position to a sequence of vectors.

    Passes the input's mask on unchanged. Sequences may be shorter than `max_length`, never
    longer: positions beyond it have no embedding (TensorFlow on CPU raises, GPUs and JAX return
    garbage silently).

    Args:
        max_length: The number of positions that get an embedding.
        **kwargs: Passed to `keras.layers.Layer`.
    """

    def __init__(self, max_length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(self.max_length, input_shape[-1]),
            initializer="uniform",  # the same as keras.layers.Embedding's
        )

    def call(self, inputs: Any) -> Any:
        positions = ops.arange(ops.shape(inputs)[1])
        position_vectors = ops.take(self.position_embeddings, positions, axis=0)
        return inputs + ops.cast(ops.expand_dims(position_vectors, axis=0), inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_length": self.max_length}


def _hash_tables(seed: int) -> Any:
    """An initializer of random non-negative int32 codes, the same for a given seed everywhere."""

    def initialize(shape: tuple[int, ...], dtype: Any = None) -> Any:
        import numpy as np

        generator = np.random.default_rng(seed)
        return generator.integers(0, 2**31 - 1, size=shape, dtype=np.int64).astype(np.int32)

    return initialize


@keras.saving.register_keras_serializable(package="textpipe")
class HashedNgrams(keras.layers.Layer):
    """Maps token ids to the hashed ids of their word n-grams of orders 1 to `order`, each once.

    Tabulation hashing: every position `k` of an n-gram has a table of random 31-bit codes, one
    per token id, and the n-gram `(a, b, c)` hashes to `T0[a] xor T1[b] xor T2[c]`, its id being
    `1 + hash mod num_buckets`. XOR of non-negative int32 codes cannot overflow, so the ids are
    identical on every backend; the tables are non-trainable weights, so a saved model carries
    them. An n-gram that reaches padding (id 0) gets id 0.

    The output has `steps * order` entries per row, sorted, each distinct id once and every
    repeat set to 0: binary features, the same set of non-zero ids however much padding follows.

    Args:
        vocab_size: The size of the token vocabulary, padding id 0 included.
        order: The longest n-gram (1: words only, 3: words, bigrams and trigrams).
        num_buckets: How many distinct n-gram ids to hash into.
        seed: The seed of the code tables.
        **kwargs: Passed to `keras.layers.Layer`.
    """

    def __init__(
        self, vocab_size: int, order: int, num_buckets: int, seed: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.order = order
        self.num_buckets = num_buckets
        self.seed = seed

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.tables = self.add_weight(
            name="tables",
            shape=(self.order, self.vocab_size),
            dtype="int32",
            initializer=_hash_tables(self.seed),
            trainable=False,
        )

    def call(self, token_ids: Any) -> Any:
        token_ids = ops.cast(token_ids, "int32")
        steps = ops.shape(token_ids)[1]
        # Zeros after the last step, so that every n-gram starting near the end reaches padding.
        padded = ops.pad(token_ids, [[0, 0], [0, self.order - 1]])
        codes = None
        real = None
        ngram_ids = []
        for position in range(self.order):
            window = padded[:, position : position + steps]
            code = ops.take(self.tables[position], window, axis=0)
            codes = code if codes is None else ops.bitwise_xor(codes, code)
            present = ops.not_equal(window, 0)
            real = present if real is None else ops.logical_and(real, present)
            bucket = ops.mod(codes, self.num_buckets) + 1
            ngram_ids.append(ops.where(real, bucket, ops.zeros_like(bucket)))
        ordered = ops.sort(ops.concatenate(ngram_ids, axis=1), axis=-1)
        first = ops.concatenate(
            [
                ops.ones_like(ordered[:, :1], dtype="bool"),
                ops.not_equal(ordered[:, 1:], ordered[:, :-1]),
            ],
            axis=1,
        )
        return ops.cast(ops.where(first, ordered, ops.zeros_like(ordered)), "int32")

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else steps * self.order)

    def compute_mask(self, token_ids: Any, mask: Any = None) -> None:
        return None

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "order": self.order,
            "num_buckets": self.num_buckets,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="textpipe")
class NaiveBayesBag(keras.layers.Layer):
    """Sums the weight vectors of a row's n-gram ids, each scaled by its naive-Bayes ratio.

    `ratios` is a non-trainable `(num_buckets + 1, num_ratios)` weight: the log-count ratio of
    each n-gram id (Wang & Manning 2012), one column for two classes (class 1 against class 0),
    one per class (that class against the rest) for more. `adapt` computes it from the training
    split; until then it is 1, and the layer is a plain bag of n-gram weights. The saved model
    keeps the ratios, so it predicts without the training data.

    With `elementwise=True` (the linear model) the weights have one column per ratio and the
    output is `sum_ngrams ratio[id, c] * weight[id, c]` (+ bias): logistic regression on
    NB-scaled binary features. Otherwise every id has a `width`-wide vector, and the output is
    `sum_ngrams ratio[id, c] * vector[id]` for each column `c`, flattened: `num_ratios * width`
    features for a hidden layer. Id 0 contributes nothing.

    Args:
        num_buckets: The number of n-gram ids (id 0, padding, comes on top).
        num_ratios: 1 for two classes, the number of classes otherwise.
        width: The width of each id's weight vector; equal to `num_ratios` when `elementwise`.
        elementwise: Whether to pair weight column `c` with ratio column `c` (linear model).
        dropout: Rate at which, in training, whole n-grams of a row are dropped.
        use_bias: Whether to add a trainable bias to the output.
        smoothing: The add-`smoothing` count of the ratios (1: Laplace).
        **kwargs: Passed to `keras.layers.Layer`.
    """

    def __init__(
        self,
        num_buckets: int,
        num_ratios: int,
        width: int,
        elementwise: bool = True,
        dropout: float = 0.0,
        use_bias: bool = True,
        smoothing: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if elementwise and width != num_ratios:
            raise ValueError(f"elementwise needs width == num_ratios, got {width}, {num_ratios}")
        self.num_buckets = num_buckets
        self.num_ratios = num_ratios
        self.width = width
        self.elementwise = elementwise
        self.dropout = dropout
        self.use_bias = use_bias
        self.smoothing = smoothing
        self.seed_generator = keras.random.SeedGenerator(1) if dropout > 0 else None

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.vectors = self.add_weight(
            name="vectors",
            shape=(self.num_buckets + 1, self.width),
            # Zeros for the linear model, as logistic regression starts; small random vectors
            # otherwise, so that the hidden units start apart.
            initializer="zeros" if self.elementwise else "uniform",
        )
        self.ratios = self.add_weight(
            name="ratios",
            shape=(self.num_buckets + 1, self.num_ratios),
            initializer="ones",
            trainable=False,
        )
        if self.use_bias:
            output = self.num_ratios if self.elementwise else self.num_ratios * self.width
            self.bias = self.add_weight(name="bias", shape=(output,), initializer="zeros")

    def call(self, ngram_ids: Any, training: bool | None = None) -> Any:
        ngram_ids = ops.cast(ngram_ids, "int32")
        real = ops.not_equal(ngram_ids, 0)
        if training and self.seed_generator is not None:
            kept = keras.random.uniform(ops.shape(ngram_ids), seed=self.seed_generator)
            real = ops.logical_and(real, ops.greater_equal(kept, self.dropout))
        ratios = ops.take(self.ratios, ngram_ids, axis=0)
        ratios = ops.where(ops.expand_dims(real, -1), ratios, ops.zeros_like(ratios))
        vectors = ops.take(self.vectors, ngram_ids, axis=0)
        if self.elementwise:
            outputs = ops.sum(ratios * vectors, axis=1)
        else:
            outputs = ops.reshape(
                ops.einsum("btr,btw->brw", ratios, vectors), (-1, self.num_ratios * self.width)
            )
        if training and self.seed_generator is not None:
            # Rescaled as Dropout does, so the expected sum is the same in training and inference.
            outputs = outputs / (1.0 - self.dropout)
        if self.use_bias:
            outputs = outputs + self.bias
        return outputs

    def adapt(self, batches: Any, num_classes: int) -> None:
        """Sets the ratios from binary n-gram ids and labels of the training rows.

        Args:
            batches: An iterable of `(ngram_ids, labels)` NumPy pairs: this layer's input for
                some training rows (each id at most once per row) and their class ids.
            num_classes: The number of classes.
        """
        import numpy as np

        size = self.num_buckets + 1
        # documents of each class that contain each id
        counts = np.zeros((num_classes, size), dtype=np.int64)
        for ngram_ids, labels in batches:
            ngram_ids = np.asarray(ngram_ids)
            labels = np.asarray(labels)
            for label in range(num_classes):
                rows = ngram_ids[labels == label]
                counts[label] += np.bincount(rows[rows > 0], minlength=size)
        if num_classes == 2:
            pairs = [(counts[1], counts[0])]
        else:
            total = counts.sum(axis=0)
            pairs = [(counts[label], total - counts[label]) for label in range(num_classes)]
        columns = []
        for inside, outside in pairs:
            positive = inside + self.smoothing
            negative = outside + self.smoothing
            columns.append(np.log(positive / positive.sum()) - np.log(negative / negative.sum()))
        ratios = np.stack(columns, axis=1).astype("float32")
        ratios[0] = 0.0
        self.ratios.assign(ratios)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        output = self.num_ratios if self.elementwise else self.num_ratios * self.width
        return (input_shape[0], output)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_buckets": self.num_buckets,
            "num_ratios": self.num_ratios,
            "width": self.width,
            "elementwise": self.elementwise,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "smoothing": self.smoothing,
        }


def recurrence_kernel(cell_type: str, *, masked: bool) -> str | None:
    """Which kernel runs a `FusedLSTM`/`FusedGRU` here; None for Keras's own path.

    Returns:
        "torch" (torch's fused kernel: packed sequences on a GPU, every step on a CPU; masked
        or not), "jax-cudnn" (`jax.experimental.rnn`, an LSTM on a JAX GPU), "scan" (the
        unmasked loop over the real steps: a GRU on a JAX GPU), "tf-block" (TensorFlow's
        fused CPU LSTM kernel, `BlockLSTM`, masked or not: an LSTM on a TensorFlow CPU, but
        in a graph compiled by XLA, where that op cannot run: the masked loop below then),
        "hoisted" (Keras's masked loop with the input product taken out of it: a masked GRU,
        or LSTM under XLA, on a TensorFlow CPU, where it measured 0.76-0.89x Keras's loop;
        slower on JAX), or
        None for Keras's own path: unmasked GRUs on TensorFlow and JAX, and unmasked LSTMs on
        JAX, which Keras runs on cuDNN itself where it can; masked on a TensorFlow GPU, where
        Keras's cuDNN kernel takes right-padded masks; masked on a JAX CPU (BENCHMARKS.md).
    """
    backend = keras.backend.backend()
    if backend == "torch":
        return "torch"
    if backend == "jax" and masked:
        import jax

        if jax.default_backend() == "gpu":
            return "jax-cudnn" if cell_type == "lstm" else "scan"
    if backend == "tensorflow" and not _tensorflow_gpu():
        if cell_type == "lstm" and not _tensorflow_xla():
            return "tf-block"
        return "hoisted" if masked else None
    return None


def _tensorflow_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))


def _tensorflow_xla() -> bool:
    """Whether the TensorFlow graph being traced is compiled by XLA (`jit_compile=True`)."""
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util  # what tf.function's own check reads

    return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


def _fused_kernel_applies(layer: keras.layers.LSTM | keras.layers.GRU, cell_type: str) -> bool:
    """Whether the layer is one a fused kernel computes (as cuDNN's conditions in Keras)."""
    cell = layer.cell
    return not (
        layer.use_cudnn is False
        or layer.unroll
        or cell.dropout
        or cell.recurrent_dropout
        or not cell.use_bias
        or cell.activation is not keras.activations.tanh
        or cell.recurrent_activation is not keras.activations.sigmoid
        or (cell_type == "gru" and not cell.reset_after)
    )


def _fused_inner_loop(
    layer: keras.layers.LSTM | keras.layers.GRU,
    cell_type: str,
    sequences: Any,
    initial_state: list[Any],
    mask: Any,
    training: bool,
) -> tuple[Any, Any, list[Any]] | None:
    """The recurrence on the backend's fused kernel, or None where Keras's own path is used.

    Returns:
        `(last_output, outputs, states)` as `keras.layers.RNN.inner_loop` returns them.
    """
    from textpipe.models import fused_rnn

    cell = layer.cell
    if not _fused_kernel_applies(layer, cell_type):
        return None
    kernel = recurrence_kernel(cell_type, masked=mask is not None)
    if kernel is None:
        return None
    if kernel == "tf-block" and keras.backend.standardize_dtype(sequences.dtype) != "float32":
        if mask is None:  # BlockLSTM's CPU kernel takes float32 only
            return None
        kernel = "hoisted"
    weights = [
        ops.convert_to_tensor(cell.kernel),
        ops.convert_to_tensor(cell.recurrent_kernel),
        ops.convert_to_tensor(cell.bias),
    ]
    if kernel == "hoisted":
        return fused_rnn.hoisted_recurrence(
            cell_type,
            sequences,
            initial_state,
            mask,
            weights,
            go_backwards=layer.go_backwards,
            zero_output_for_mask=layer.zero_output_for_mask,
            return_all_outputs=layer.return_sequences,
        )
    if kernel == "torch":
        sequences = ops.cast(sequences, weights[0].dtype)
        initial_state = [ops.cast(state, weights[0].dtype) for state in initial_state]
    if layer.go_backwards:
        # Keras runs a backward layer over the reversed steps and returns its outputs in that
        # order; so do we.
        sequences = ops.flip(sequences, axis=1)
        mask = None if mask is None else ops.flip(mask, axis=1)
    if mask is None and kernel == "tf-block":
        processed, last_output, final = fused_rnn.tf_block_lstm(
            sequences, initial_state, None, weights, shards=getattr(layer, "kernel_shards", None)
        )
        return last_output, processed, final
    if mask is None:  # torch: its kernel, every step of every row
        processed, last_output, final = fused_rnn.torch_recurrence(
            cell_type,
            sequences,
            initial_state,
            None,
            fused_rnn.torch_weights(cell_type, *weights),
            training=_torch_grad_enabled(),
        )
        return last_output, processed, final

    # On a torch CPU the mask's values can be read for free: right-padded rows (a forward
    # layer over textpipe's encoding) need no moving to the front and back.
    right_padded = kernel == "torch" and _on_cpu(sequences) and fused_rnn.is_right_padded(mask)
    if right_padded:
        moved, lengths = sequences, fused_rnn.lengths_from_mask(mask)
    else:
        moved, lengths = fused_rnn.real_steps_first(sequences, mask)
    if kernel == "torch":
        processed, _, final = fused_rnn.torch_recurrence(
            cell_type,
            moved,
            initial_state,
            lengths,
            fused_rnn.torch_weights(cell_type, *weights),
            training=_torch_grad_enabled(),
            packed=_torch_packed(layer, cell_type, sequences),
        )
    elif kernel == "tf-block":
        processed, _, final = fused_rnn.tf_block_lstm(
            moved, initial_state, lengths, weights, shards=getattr(layer, "kernel_shards", None)
        )
    elif kernel == "jax-cudnn":
        processed, _, final = fused_rnn.jax_cudnn_lstm(
            moved,
            initial_state,
            lengths,
            fused_rnn.jax_cudnn_lstm_weights(*weights),
            units=cell.units,
        )
    else:
        processed, _, final = fused_rnn.scan_recurrence(
            cell, moved, initial_state, lengths, training=training
        )
    outputs = fused_rnn.at_mask_steps(
        processed,
        mask,
        zero_output_for_mask=layer.zero_output_for_mask,
        right_padded=right_padded,
    )
    # Keras's last output is the output of the last step, masked or not.
    return outputs[:, -1], outputs, list(final)


def _torch_packed(
    layer: keras.layers.LSTM | keras.layers.GRU, cell_type: str, sequences: Any
) -> bool:
    """Whether torch runs a masked recurrence on packed sequences rather than over every step.

    Packed on a GPU (cuDNN stops each row at its length), and for an LSTM whose final cell
    state is used (`return_state`, `stateful`), which only packed sequences give; otherwise
    every step, which on a CPU reaches oneDNN's fused LSTM kernel (`fused_rnn.torch_recurrence`).
    """
    if not _on_cpu(sequences):
        return True
    return cell_type == "lstm" and bool(layer.return_state or layer.stateful)


def _on_cpu(tensor: Any) -> bool:
    """Whether a torch tensor is in host memory."""
    return tensor.device.type == "cpu"


def _torch_grad_enabled() -> bool:
    import torch

    return torch.is_grad_enabled()


class _FusedRecurrence:
    """The `inner_loop` of `FusedLSTM` and `FusedGRU`: the fused kernel where one applies,
    Keras's own loop otherwise."""

    cell_kind = ""

    def inner_loop(
        self, sequences: Any, initial_state: Any, mask: Any, training: bool = False
    ) -> Any:
        if isinstance(mask, list | tuple):
            mask = mask[0]
        fused = _fused_inner_loop(self, self.cell_kind, sequences, initial_state, mask, training)
        if fused is not None:
            return fused
        return super().inner_loop(sequences, initial_state, mask, training=training)


@keras.saving.register_keras_serializable(package="textpipe")
class FusedLSTM(_FusedRecurrence, keras.layers.LSTM):
    """`keras.layers.LSTM` whose masked recurrence runs on each backend's fastest kernel.

    Same arguments, weights and results as `keras.layers.LSTM`, under any mask (see
    `textpipe.models.fused_rnn` for what runs where); layers that cuDNN could not run either
    (other activations, dropout inside the layer, `use_cudnn=False`) take Keras's own path. A
    `.keras` file keeps Keras's weight layout, so it loads and predicts the same on every
    backend.
    """

    cell_kind = "lstm"
    # Parts of each batch run side by side by TensorFlow's CPU kernel; None: one per core.
    # `FusedBidirectional` halves it, its two directions already running side by side.
    kernel_shards: int | None = None


@keras.saving.register_keras_serializable(package="textpipe")
class FusedGRU(_FusedRecurrence, keras.layers.GRU):
    """`keras.layers.GRU` whose masked recurrence runs on each backend's fastest kernel.

    As `FusedLSTM`, for a GRU with `reset_after=True` (Keras's default and cuDNN's form).
    """

    cell_kind = "gru"


@keras.saving.register_keras_serializable(package="textpipe")
class FusedBidirectional(keras.layers.Bidirectional):
    """`keras.layers.Bidirectional`, whose `FusedLSTM`s split each batch across half the cores
    each on a TensorFlow CPU (their two directions already run side by side there; split
    across every core each, an imdb-bilstm step measured slower). Same arguments, weights and
    results as `keras.layers.Bidirectional`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from textpipe.textops import default_threads

        for each in (self.forward_layer, self.backward_layer):
            if isinstance(each, FusedLSTM):
                each.kernel_shards = max(1, default_threads() // 2)
