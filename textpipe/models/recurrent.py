"""Recurrent models: LSTM and GRU, one- or two-directional, stacked, with a choice of pooling.

Every recurrent layer keeps the conditions under which Keras may run it with cuDNN on a GPU
(see the `keras.layers.LSTM` docstring): tanh and sigmoid activations, no recurrent dropout,
`unroll=False`, and a mask that is right-padded (padding id 0 at the end of each row). Under
such a mask they run fused on every backend (`FusedLSTM`, `FusedGRU`: packed sequences on
PyTorch, cuDNN with each row's length on a JAX GPU); any other mask is first turned into right
padding, with the same results as Keras's masked loop.
"""

from __future__ import annotations

import keras
from keras import layers

from textpipe.models.head import classifier_head, functional_model, layer_dtype, token_input
from textpipe.models.hyperparameters import validate_hyperparameters
from textpipe.models.layers import FusedGRU, FusedLSTM, MaskedMaxPooling, MaskedMeanPooling

# Keras's LSTM and GRU, with the masked recurrence on each backend's fused kernel
# (textpipe.models.fused_rnn); weights and results are Keras's.
_RECURRENT_LAYERS = {"lstm": FusedLSTM, "gru": FusedGRU}

# The four builders share one argument list; their docstrings are assembled from it at the end
# of the module, as keras.applications does for its families.
_ARGUMENTS_DOC = """
    Args:
        vocab_size: Number of token ids, padding id 0 included.
        length: Ignored: the model accepts any number of steps, so a review encoded at length 64
            and at 128 go through the same model.
        num_classes: 2 gives one logit, more give one logit per class.
        embedding_dim: Width of the token embedding.
        units: Width of each recurrent layer (of each direction) and of the hidden Dense layer.
        num_layers: Number of stacked recurrent layers.
        dropout: Dropout rate after the hidden Dense layer.
        pooling: How the last recurrent layer's sequence becomes one vector: "last" (its output
            at the last real step), "mean" or "max" over the real steps.
        merge_mode: How the two directions are combined: "concat", "sum", "mul" or "ave".
            Bidirectional models only.
        bigrams: Ignored.
        bigram_buckets: Ignored.
        ngram_order: Ignored.
        ngram_buckets: Ignored.
        ngram_hidden: Ignored.
        num_heads: Ignored.
        kernel_size: Ignored.
        use_cudnn: Passed to the recurrent layers: "auto" uses cuDNN where it can, True
            requires it (fails where it is unavailable), False never uses it.
        mixed_precision: Compute in float16 with float32 variables and float32 logits.

    Returns:
        An uncompiled `keras.Model` mapping `(batch, steps)` int32 token ids to logits.

    Raises:
        ConfigError: If a hyperparameter value is invalid.
    """


def _build_recurrent(
    *,
    name: str,
    cell_type: str,
    bidirectional: bool,
    vocab_size: int,
    num_classes: int,
    embedding_dim: int,
    units: int,
    num_layers: int,
    dropout: float,
    pooling: str,
    merge_mode: str,
    use_cudnn: str | bool,
    mixed_precision: bool,
) -> keras.Model:
    dtype = layer_dtype(mixed_precision)
    token_ids = token_input(None)
    hidden = layers.Embedding(
        vocab_size, embedding_dim, mask_zero=True, dtype=dtype, name="embedding"
    )(token_ids)
    for index in range(num_layers):
        is_last = index == num_layers - 1
        # With "last" pooling the final layer's own output under the mask is the output at the
        # last real step (and, going backwards, at the first), so it needs no sequence.
        recurrent = _RECURRENT_LAYERS[cell_type](
            units,
            return_sequences=not is_last or pooling != "last",
            use_cudnn=use_cudnn,
            dtype=dtype,
            name=f"{cell_type}_{index + 1}",
        )
        if bidirectional:
            recurrent = layers.Bidirectional(
                recurrent,
                merge_mode=merge_mode,
                dtype=dtype,
                name=f"bi{cell_type}_{index + 1}",
            )
        hidden = recurrent(hidden)
    if pooling == "mean":
        hidden = MaskedMeanPooling(dtype=dtype, name="mean_pooling")(hidden)
    elif pooling == "max":
        hidden = MaskedMaxPooling(dtype=dtype, name="max_pooling")(hidden)
    logits = classifier_head(
        hidden,
        units=units,
        num_classes=num_classes,
        dropout=dropout,
        mixed_precision=mixed_precision,
    )
    return functional_model(token_ids, logits, name=name, mixed_precision=mixed_precision)


def build_lstm(
    *,
    vocab_size: int,
    length: int,
    num_classes: int,
    embedding_dim: int = 64,
    units: int = 64,
    num_layers: int = 1,
    dropout: float = 0.0,
    pooling: str = "last",
    merge_mode: str = "concat",
    bigrams: bool = False,
    bigram_buckets: int = 100_000,
    ngram_order: int = 3,
    ngram_buckets: int = 2**21,
    ngram_hidden: bool = False,
    num_heads: int = 2,
    kernel_size: int = 5,
    use_cudnn: str | bool = "auto",
    mixed_precision: bool = False,
) -> keras.Model:
    # Every argument, read before any other local exists.
    validate_hyperparameters(locals(), model="lstm")
    return _build_recurrent(
        name="lstm",
        cell_type="lstm",
        bidirectional=False,
        vocab_size=vocab_size,
        num_classes=num_classes,
        embedding_dim=embedding_dim,
        units=units,
        num_layers=num_layers,
        dropout=dropout,
        pooling=pooling,
        merge_mode=merge_mode,
        use_cudnn=use_cudnn,
        mixed_precision=mixed_precision,
    )


def build_bilstm(
    *,
    vocab_size: int,
    length: int,
    num_classes: int,
    embedding_dim: int = 64,
    units: int = 64,
    num_layers: int = 1,
    dropout: float = 0.0,
    pooling: str = "last",
    merge_mode: str = "concat",
    bigrams: bool = False,
    bigram_buckets: int = 100_000,
    ngram_order: int = 3,
    ngram_buckets: int = 2**21,
    ngram_hidden: bool = False,
    num_heads: int = 2,
    kernel_size: int = 5,
    use_cudnn: str | bool = "auto",
    mixed_precision: bool = False,
) -> keras.Model:
    # Every argument, read before any other local exists.
    validate_hyperparameters(locals(), model="bilstm")
    return _build_recurrent(
        name="bilstm",
        cell_type="lstm",
        bidirectional=True,
        vocab_size=vocab_size,
        num_classes=num_classes,
        embedding_dim=embedding_dim,
        units=units,
        num_layers=num_layers,
        dropout=dropout,
        pooling=pooling,
        merge_mode=merge_mode,
        use_cudnn=use_cudnn,
        mixed_precision=mixed_precision,
    )


def build_gru(
    *,
    vocab_size: int,
    length: int,
    num_classes: int,
    embedding_dim: int = 64,
    units: int = 64,
    num_layers: int = 1,
    dropout: float = 0.0,
    pooling: str = "last",
    merge_mode: str = "concat",
    bigrams: bool = False,
    bigram_buckets: int = 100_000,
    ngram_order: int = 3,
    ngram_buckets: int = 2**21,
    ngram_hidden: bool = False,
    num_heads: int = 2,
    kernel_size: int = 5,
    use_cudnn: str | bool = "auto",
    mixed_precision: bool = False,
) -> keras.Model:
    # Every argument, read before any other local exists.
    validate_hyperparameters(locals(), model="gru")
    return _build_recurrent(
        name="gru",
        cell_type="gru",
        bidirectional=False,
        vocab_size=vocab_size,
        num_classes=num_classes,
        embedding_dim=embedding_dim,
        units=units,
        num_layers=num_layers,
        dropout=dropout,
        pooling=pooling,
        merge_mode=merge_mode,
        use_cudnn=use_cudnn,
        mixed_precision=mixed_precision,
    )


def build_bigru(
    *,
    vocab_size: int,
    length: int,
    num_classes: int,
    embedding_dim: int = 64,
    units: int = 64,
    num_layers: int = 1,
    dropout: float = 0.0,
    pooling: str = "last",
    merge_mode: str = "concat",
    bigrams: bool = False,
    bigram_buckets: int = 100_000,
    ngram_order: int = 3,
    ngram_buckets: int = 2**21,
    ngram_hidden: bool = False,
    num_heads: int = 2,
    kernel_size: int = 5,
    use_cudnn: str | bool = "auto",
    mixed_precision: bool = False,
) -> keras.Model:
    # Every argument, read before any other local exists.
    validate_hyperparameters(locals(), model="bigru")
    return _build_recurrent(
        name="bigru",
        cell_type="gru",
        bidirectional=True,
        vocab_size=vocab_size,
        num_classes=num_classes,
        embedding_dim=embedding_dim,
        units=units,
        num_layers=num_layers,
        dropout=dropout,
        pooling=pooling,
        merge_mode=merge_mode,
        use_cudnn=use_cudnn,
        mixed_precision=mixed_precision,
    )


build_lstm.__doc__ = (
    "Builds Embedding(mask_zero) -> LSTM x num_layers -> pooling -> Dense(units, relu)"
    " -> [Dropout] -> logits.\n" + _ARGUMENTS_DOC
)
build_bilstm.__doc__ = (
    "Builds Embedding(mask_zero) -> Bidirectional(LSTM) x num_layers -> pooling"
    " -> Dense(units, relu) -> [Dropout] -> logits.\n" + _ARGUMENTS_DOC
)
build_gru.__doc__ = (
    "Builds Embedding(mask_zero) -> GRU x num_layers -> pooling -> Dense(units, relu)"
    " -> [Dropout] -> logits.\n" + _ARGUMENTS_DOC
)
build_bigru.__doc__ = (
    "Builds Embedding(mask_zero) -> Bidirectional(GRU) x num_layers -> pooling"
    " -> Dense(units, relu) -> [Dropout] -> logits.\n" + _ARGUMENTS_DOC
)
