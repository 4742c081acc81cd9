"""Supervised fine-tuning with LoRA (QLoRA on CUDA with bitsandbytes): loss on the assistant's answer only."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from workbench.sdk import ProgressReporter, WorkbenchError
from workbench_relations.generation import chat_prompt
from workbench_relations.language_model import LoadedModel

IGNORE = -100


@dataclass
class LoraSettings:
    """The defaults are the shipped student's recipe; the task's parameters take theirs from here."""

    epochs: int = 2
    learning_rate: float = 1e-3
    rank: int = 16
    alpha: int = 32
    batch_size: int = 8
    max_length: int = 256
    seed: int = 0


def encode_example(tokenizer: Any, system: str, text: str, answer: str, max_length: int) -> dict[str, list[int]]:
    """Token ids of the whole conversation; labels hide everything before the assistant's answer."""
    prompt = tokenizer(chat_prompt(tokenizer, system, text), add_special_tokens=False)["input_ids"]
    full = tokenizer(chat_prompt(tokenizer, system, text, answer), add_special_tokens=False)["input_ids"]
    if full[:len(prompt)] != prompt:  # templates that rewrite earlier turns: fall back to appending the answer
        full = prompt + tokenizer(answer + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    full = full[:max_length]
    labels = [IGNORE] * min(len(prompt), len(full)) + full[len(prompt):]
    return {"input_ids": full, "labels": labels}


def train(loaded: LoadedModel, system: str, texts: list[str], answers: list[str], settings: LoraSettings,
          progress: ProgressReporter, quantized: bool = False) -> Any:
    """Wrap the model with LoRA adapters on every linear layer and train them; returns (model, losses per step)."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(settings.seed)
    model = loaded.model
    if quantized:
        model = prepare_model_for_kbit_training(model)
    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=0.05, target_modules="all-linear",
                        task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    examples = [encode_example(loaded.tokenizer, system, text, answer, settings.max_length)
                for text, answer in zip(texts, answers, strict=True)]
    if not any(label != IGNORE for example in examples for label in example["labels"]):
        raise WorkbenchError(f"max_length={settings.max_length} cuts every answer off: the prompts alone are longer; "
                             "raise max_length")
    steps_per_epoch = -(-len(examples) // settings.batch_size)
    total = steps_per_epoch * settings.epochs
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, max(1, total // 20), total)
    order = list(range(len(examples)))
    shuffle = random.Random(settings.seed)
    losses = []
    model.train()
    with progress.bar("LoRA training", total=total) as bar:
        for _ in range(settings.epochs):
            shuffle.shuffle(order)
            for start in range(0, len(order), settings.batch_size):
                batch = _pad([examples[i] for i in order[start:start + settings.batch_size]],
                             loaded.tokenizer.pad_token_id, loaded.device)
                loss = model(**batch).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                losses.append(loss.item())
                bar.advance()
                bar.note(f"loss {sum(losses[-10:]) / len(losses[-10:]):.3f}")
    model.eval()
    return model, losses


def _pad(examples: list[dict[str, list[int]]], pad_id: int, device: str) -> dict:
    """Right-pad a training batch; padding is masked out of attention and loss."""
    import torch

    width = max(len(e["input_ids"]) for e in examples)
    ids = [e["input_ids"] + [pad_id] * (width - len(e["input_ids"])) for e in examples]
    labels = [e["labels"] + [IGNORE] * (width - len(e["labels"])) for e in examples]
    mask = [[1] * len(e["input_ids"]) + [0] * (width - len(e["input_ids"])) for e in examples]
    return {"input_ids": torch.tensor(ids, device=device), "labels": torch.tensor(labels, device=device),
            "attention_mask": torch.tensor(mask, device=device)}
