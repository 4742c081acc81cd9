"""Predictions: a label and a probability per class for each text, in memory or batch after batch."""

from __future__ import annotations

import time

import numpy as np
import polars as pl

from workbench.sdk import ProgressReporter, text_values
from workbench_fewshot.methods import FewShotClassifier


def predict(classifier: FewShotClassifier, texts: list[str], progress: ProgressReporter) -> tuple[np.ndarray, float]:
    """The probability of each class for each text, and the seconds it took."""
    started = time.perf_counter()
    probabilities = classifier.predict_proba(texts, progress)
    return probabilities, time.perf_counter() - started


def predictions_frame(data: pl.DataFrame, classifier: FewShotClassifier, probabilities: np.ndarray) -> pl.DataFrame:
    """`data` with the predicted label, its probability, and one `probability_<label>` column per class."""
    best = probabilities.argmax(axis=1)
    labels = np.array(classifier.labels, dtype=object)
    return data.with_columns(
        pl.Series("predicted_label", labels[best].tolist(), dtype=pl.String),
        pl.Series("probability", probabilities.max(axis=1).astype(float)),
        *[pl.Series(f"probability_{label}", probabilities[:, index].astype(float))
          for index, label in enumerate(classifier.labels)])


class Predictions:
    """A registered classifier's predictions for batches of rows (the model is loaded once)."""

    def __init__(self, classifier: FewShotClassifier, text: str) -> None:
        self.classifier, self.text = classifier, text

    def __call__(self, batch: pl.DataFrame) -> pl.DataFrame:
        probabilities, _ = predict(self.classifier, text_values(batch, self.text), ProgressReporter())
        return predictions_frame(batch, self.classifier, probabilities)


def speed(classifier: FewShotClassifier, rows: int, seconds: float) -> dict:
    """How many texts were encoded and how many came from the cache; a rate only when texts were encoded."""
    embedder = classifier.embedder
    shown: dict = {"embeddings_encoded": embedder.encoded, "embeddings_cached": embedder.cached}
    if embedder.encoded:
        shown.update(predict_seconds=round(seconds, 3), sentences_per_second=round(rows / max(seconds, 1e-9), 1))
    return shown
