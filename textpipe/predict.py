"""Classifying raw text with a trained run: its own tokenizer, padding and model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textpipe.artifacts import Store
from textpipe.errors import InputError
from textpipe.pipeline import resolve_run_artifacts


@dataclass(frozen=True)
class Prediction:
    text: str
    label: str
    probability: float
    probabilities: dict[str, float]


@dataclass
class Predictor:
    """Everything needed to go from raw text to a label."""

    tokenizer: Any
    model: Any
    length: int
    padding: str
    truncation: str
    label_names: list[str]
    run: str

    def encode(self, texts: list[str]) -> Any:
        """Raw texts to the padded id matrix, exactly as the encode stage lays it out."""
        import numpy as np

        from textpipe.stages.encode import pad_ids

        encodings = self.tokenizer.encode_batch(texts)
        lengths = [len(encoding.ids) for encoding in encodings]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = np.fromiter(
            (token for encoding in encodings for token in encoding.ids),
            dtype=np.int32,
            count=int(offsets[-1]),
        )
        return pad_ids(
            flat, offsets, length=self.length, padding=self.padding, truncation=self.truncation
        ).ids

    def predict(self, texts: list[str]) -> list[Prediction]:
        from textpipe.stages.evaluate import predict_probabilities

        if not texts:
            return []
        probabilities = predict_probabilities(self.model, self.encode(texts))
        results = []
        for index, text in enumerate(texts):
            if probabilities.ndim == 1:
                positive = float(probabilities[index])
                scores = {self.label_names[0]: 1 - positive, self.label_names[1]: positive}
            else:
                scores = {
                    name: float(value)
                    for name, value in zip(self.label_names, probabilities[index], strict=True)
                }
            label = max(scores, key=scores.__getitem__)
            results.append(
                Prediction(text=text, label=label, probability=scores[label], probabilities=scores)
            )
        return results


def load_predictor(
    name_or_path: str,
    store: Store,
    *,
    model_code: str | None = None,
    trust_code: bool = False,
) -> Predictor:
    """The predictor of a run (by run/preset name) or of a train/evaluate artifact directory.

    The tokenizer and the encoding are the ones the model was trained with (checked by key).

    Raises:
        InputError: the run has no trained model, its vocabulary is gone, or its artifacts
            do not belong together.
        ArtifactError: an artifact is damaged, or the model needs custom code nobody named.
    """
    from tokenizers import Tokenizer

    from textpipe.stages.train import load_trained_model
    from textpipe.stages.vocab import TOKENIZER_FILE

    artifacts = resolve_run_artifacts(name_or_path, store)
    trained = artifacts.get("train")
    if trained is None:
        raise InputError(f"{name_or_path!r} has no trained model yet; run its train stage first.")
    encoded, vocab = artifacts.get("encode"), artifacts.get("vocab")
    if encoded is None or vocab is None:
        raise InputError(
            f"The encode or vocab artifact of {name_or_path!r} is not in the store {store.root}; "
            "rebuild them (textpipe run ... --until encode)."
        )
    if trained.input_key("encoded") != encoded.key or encoded.input_key("vocab") != vocab.key:
        raise InputError(
            f"The model of {name_or_path!r} was trained on another encoding or vocabulary than "
            f"the run's latest; run `textpipe run {name_or_path}` to retrain it."
        )
    model = load_trained_model(trained, model_code=model_code, trust_code=trust_code)
    return Predictor(
        tokenizer=Tokenizer.from_file(str(vocab.file(TOKENIZER_FILE))),
        model=model,
        length=int(encoded.params["length"]),
        padding=encoded.params["padding"],
        truncation=encoded.params["truncation"],
        label_names=list(trained.stats["label_names"]),
        run=name_or_path,
    )
