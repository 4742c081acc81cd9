"""The three methods as one kind of object: an embedder and a head (logistic regression or label cosine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.sdk import ProgressReporter
from workbench_fewshot.backbone import Embedder

ZERO_SHOT_TEMPERATURE = 0.05


@dataclass
class FewShotClassifier:
    """Predicts label probabilities for texts; `labels[i]` is column i of `predict_proba`."""

    method: str
    labels: list[str]
    embedder: Embedder
    head: Any = None
    label_vectors: np.ndarray | None = None
    descriptions: list[str] = field(default_factory=list)

    def predict_proba(self, texts: list[str], progress: ProgressReporter) -> np.ndarray:
        vectors = self.embedder.encode(texts, progress)
        if self.method == "zeroshot":
            assert self.label_vectors is not None
            return cosine_softmax(vectors, self.label_vectors)
        return self.head.predict_proba(vectors)


def cosine_softmax(vectors: np.ndarray, label_vectors: np.ndarray) -> np.ndarray:
    """Softmax over cosine similarities to each label description, sharpened by a fixed temperature."""
    texts = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
    labels = label_vectors / np.linalg.norm(label_vectors, axis=1, keepdims=True).clip(1e-12)
    logits = texts @ labels.T / ZERO_SHOT_TEMPERATURE
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def fit_logistic_head(vectors: np.ndarray, label_ids: np.ndarray, seed: int) -> Any:
    """The same head SetFit puts on its body: scikit-learn's logistic regression."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000, random_state=seed).fit(vectors, label_ids)


def train_setfit(reference: str, texts: list[str], label_ids: np.ndarray, settings: dict[str, Any],
                 scratch_dir: Path, progress: ProgressReporter, device: str) -> Any:
    """Contrastive fine-tuning on pairs from the examples, then SetFit's logistic-regression head.

    The model is put together here from a sentence-transformers body and a fresh head, never with SetFit's
    `from_pretrained`, which would unpickle a `model_head.pkl` found in the folder.
    """
    from datasets import Dataset  # type: ignore[attr-defined]
    from setfit import SetFitModel, Trainer, TrainingArguments
    from sklearn.linear_model import LogisticRegression
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from workbench.sdk import quiet_huggingface
    from workbench_fewshot.backbone import load_sentence_model

    body = load_sentence_model(reference, settings["max_length"], device)
    quiet_huggingface()
    model = SetFitModel(model_body=body, model_head=LogisticRegression())
    args = TrainingArguments(
        batch_size=settings["batch_size"], num_epochs=settings["epochs"], num_iterations=settings["iterations"],
        seed=settings["seed"], max_length=settings["max_length"], output_dir=str(scratch_dir / "setfit-checkpoints"),
        save_strategy="no", report_to="none", show_progress_bar=False,
    )
    dataset = Dataset.from_dict({"text": texts, "label": [int(i) for i in label_ids]})
    trainer = Trainer(model=model, args=args, train_dataset=dataset, callbacks=[_progress_callback(progress)])
    for printer in (ProgressCallback, PrinterCallback):
        trainer.st_trainer.pop_callback(printer)
    trainer.train()
    return model


def _progress_callback(progress: ProgressReporter) -> Any:
    """A transformers callback that drives a workbench progress bar, one step per optimiser step."""
    from contextlib import ExitStack

    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def __init__(self) -> None:
            self.stack = ExitStack()
            self.bar: Any = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            self.bar = self.stack.enter_context(progress.bar("SetFit pairs", total=state.max_steps))

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            self.bar.advance()

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            self.stack.close()

    return ProgressCallback()
