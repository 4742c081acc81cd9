"""Saving a trained classifier into a model folder and loading it back (after the registry's sha256 check)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench import WorkbenchError
from workbench.artifacts import load_model, save_model
from workbench.progress import ProgressReporter
from workbench_fewshot.backbone import Embedder, load_sentence_model, model_key, resolve_backbone
from workbench_fewshot.methods import FewShotClassifier

MANIFEST = "fewshot.json"
SETFIT_FOLDER = "setfit"
HEAD_FILE = "head.skops"
SETFIT_HEAD = "model_head.pkl"


def save_classifier(classifier: FewShotClassifier, setfit_model, backbone: str | None, settings: dict[str, Any],
                    folder: Path) -> None:
    """SetFit models through `save_pretrained` (body and head); the embeddings head as skops; labels as JSON."""
    manifest = {"method": classifier.method, "labels": classifier.labels, "backbone": backbone,
                "descriptions": classifier.descriptions,
                "max_length": settings["max_length"], "batch_size": settings["batch_size"]}
    if setfit_model is not None:
        setfit_model.save_pretrained(str(folder / SETFIT_FOLDER))
    elif classifier.head is not None:
        save_model(classifier.head, folder / HEAD_FILE)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))


def load_classifier(folder: Path, sha256: str, device: str, cache) -> FewShotClassifier:
    """Rebuild the classifier a model folder holds; a SetFit folder without its head is refused."""
    from workbench.huggingface import quiet_huggingface

    quiet_huggingface()
    manifest = json.loads((folder / MANIFEST).read_text())
    method, max_length = manifest["method"], manifest["max_length"]
    head = None
    if method == "setfit":
        if not (folder / SETFIT_FOLDER / SETFIT_HEAD).is_file():
            raise WorkbenchError(f"this SetFit model has no classification head ({SETFIT_FOLDER}/{SETFIT_HEAD} is "
                                 "missing); train and register it again")
        from setfit import SetFitModel

        setfit_model = SetFitModel.from_pretrained(str(folder / SETFIT_FOLDER), device=device)
        body, head, key = setfit_model.model_body, setfit_model.model_head, f"registry:{sha256}|{max_length}"
    else:
        reference = resolve_backbone(manifest["backbone"])
        body = load_sentence_model(reference, max_length, device)
        key = model_key(reference, max_length)
        if method == "embeddings":
            head = load_model(folder / HEAD_FILE)
    if max_length:
        body.max_seq_length = max_length
    embedder = Embedder(body, key, cache, manifest["batch_size"])
    classifier = FewShotClassifier(method, manifest["labels"], embedder, head, descriptions=manifest["descriptions"])
    if method == "zeroshot":
        classifier.label_vectors = embedder.encode(classifier.descriptions, ProgressReporter())
    return classifier

