"""Helpers for tasks built on Hugging Face libraries (imported only by the tasks that use them)."""

from __future__ import annotations

import importlib
import logging
import sys
import warnings
from pathlib import Path

from workbench.errors import Invalid
from workbench.safety import check_folder


def quiet_huggingface() -> None:
    """Silence the libraries' own progress bars and chatter; tasks report through `ctx.progress`.

    Call it after importing setfit, which sets its own log level on import.
    """
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        datasets = importlib.import_module("datasets")  # Hugging Face's, not this repository's sample folder
    except ImportError:
        pass
    else:
        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    if "setfit" in sys.modules:
        sys.modules["setfit"].logging.set_verbosity_error()
    for name in ("sentence_transformers", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*pin_memory.*")
    warnings.filterwarnings("ignore", message="Could not find a config file")  # peft, saving an adapter of a GGUF


def checked_model(reference: str, what: str) -> Path:
    """The local files a model reference names, checked like a registered artifact before any library reads them.

    A folder or file is checked as it is; a hub id is looked up in the local Hugging Face cache (nothing is
    downloaded) and its snapshot checked. A pickle anywhere (SetFit's `model_head.pkl`, a `.bin` of weights) or a
    symbolic link is refused: a parameter never makes a library unpickle.
    """
    path = Path(reference).expanduser()
    if not path.exists():
        if reference.startswith(("/", ".", "~")) or reference.count("/") > 1:
            raise Invalid(f"{what} {reference!r} does not exist; pass an existing folder or a hub id")
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

        try:
            path = Path(snapshot_download(reference, local_files_only=True))
        except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
            raise Invalid(f"{what} {reference!r} is neither a folder nor a model in the local Hugging Face cache "
                          "(nothing is downloaded at run time); pass a local folder") from None
    check_folder(path.resolve(), f"{what} {reference!r}")
    return path.resolve()
