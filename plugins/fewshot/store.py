"""Saving a trained classifier into a model folder and loading it back, with no pickle anywhere.

The sentence-transformer body is saved by sentence-transformers (safetensors and JSON); the logistic-regression
head (SetFit's, or the embeddings method's) as its coefficients in a safetensors file, rebuilt on load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from workbench.sdk import ProgressReporter, WorkbenchError, load_arrays, save_arrays
from workbench_fewshot.backbone import Embedder, load_sentence_model, model_key, resolve_backbone
from workbench_fewshot.methods import FewShotClassifier

MANIFEST = "fewshot.json"
BODY_FOLDER = "body"
HEAD_FILE = "head.safetensors"


def head_arrays(head: Any) -> dict[str, np.ndarray]:
    """A fitted scikit-learn LogisticRegression as plain arrays."""
    return {"coef": head.coef_.astype(np.float64), "intercept": head.intercept_.astype(np.float64),
            "classes": np.asarray(head.classes_, dtype=np.int64)}


def head_from_arrays(arrays: dict[str, np.ndarray]) -> Any:
    """The LogisticRegression that `head_arrays` described, ready to predict."""
    from sklearn.linear_model import LogisticRegression

    head = LogisticRegression()
    head.coef_, head.intercept_, head.classes_ = arrays["coef"], arrays["intercept"], arrays["classes"]
    head.n_features_in_ = head.coef_.shape[1]
    return head


def save_classifier(classifier: FewShotClassifier, body: Any, backbone: str | None, settings: dict[str, Any],
                    folder: Path) -> None:
    """A SetFit model's fine-tuned body (when there is one), the head's arrays, and the manifest."""
    manifest = {"method": classifier.method, "labels": classifier.labels, "backbone": backbone,
                "descriptions": classifier.descriptions,
                "max_length": settings["max_length"], "batch_size": settings["batch_size"]}
    if body is not None:
        body.save(str(folder / BODY_FOLDER), create_model_card=False)
    if classifier.head is not None:
        save_arrays(head_arrays(classifier.head), folder / HEAD_FILE)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))


def load_classifier(folder: Path, sha256: str, device: str, cache_for: Any) -> FewShotClassifier:
    """Rebuild the classifier a verified model folder holds; `cache_for(key)` gives the embedding cache."""
    manifest = json.loads((folder / MANIFEST).read_text())
    method, max_length = manifest["method"], manifest["max_length"]
    head = None
    if method == "setfit":
        if not (folder / HEAD_FILE).is_file() or not (folder / BODY_FOLDER).is_dir():
            raise WorkbenchError(f"this SetFit model lacks its body or head ({BODY_FOLDER}/, {HEAD_FILE}); "
                                 "train and register it again")
        body = load_sentence_model(str(folder / BODY_FOLDER), max_length, device)
        key = f"model:{sha256}|{max_length}"
    else:
        reference = resolve_backbone(manifest["backbone"])
        body = load_sentence_model(reference, max_length, device)
        key = model_key(reference, max_length)
    if method in ("setfit", "embeddings"):
        head = head_from_arrays(load_arrays(folder / HEAD_FILE))
    embedder = Embedder(body, cache_for(key), manifest["batch_size"])
    classifier = FewShotClassifier(method, manifest["labels"], embedder, head, descriptions=manifest["descriptions"])
    if method == "zeroshot":
        classifier.label_vectors = embedder.encode(classifier.descriptions, ProgressReporter())
    return classifier
