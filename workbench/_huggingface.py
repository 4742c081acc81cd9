"""Helpers for tasks built on Hugging Face libraries (imported only by the tasks that use them)."""

from __future__ import annotations

import importlib
import logging
import sys
import warnings


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
