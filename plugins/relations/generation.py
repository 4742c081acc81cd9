"""Batched generation with the tokenizer's chat template and left padding, worked examples as earlier turns,
stop sequences; tokens counted for throughput."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from workbench.sdk import ProgressReporter, WorkbenchError
from workbench_relations.language_model import LoadedModel

DEFAULT_SYSTEM_PROMPT = (
    "Extract the relations stated in the text. Write each one as entity1|relationship|entity2, one per line, "
    "with the entities' words as in the text, and nothing else.\nExample Text: Alice is from France.\n"
    "Answer: Alice|is from|France"
)


def system_prompt(base: str | None, labels: list[str] | None) -> str:
    """The system prompt, listing the closed set of relationships when one is given."""
    text = base or DEFAULT_SYSTEM_PROMPT
    if labels:
        text += "\nUse only these relationships: " + ", ".join(labels) + "."
    return text


# A blank line or a new chat turn ends the answer: the model has written its triples.
STOP_STRINGS = ["\n\n", "<|im_start|>", "<|im_end|>"]
CPU_BATCH_SIZE = 32  # of 8, 16 and 32 on 2 cores, 32 ran fastest (benchmarks/RESULTS.md)
MAX_CUDA_BATCH_SIZE = 256
CUDA_MEMORY_SHARE = 0.5  # of the free GPU memory, for the KV cache and activations of one batch
Example = tuple[str, str]  # (text, answer lines)


@dataclass
class Decoding:
    """Greedy by default; beam search with `num_beams` > 1; sampling when `temperature` is set;
    `batch_size` None: chosen for the device (`adaptive_batch_size`)."""

    max_new_tokens: int = 64
    batch_size: int | None = None
    num_beams: int = 1
    temperature: float | None = None
    repetition_penalty: float | None = None

    def generate_kwargs(self, tokenizer: Any) -> dict:
        kwargs = {"max_new_tokens": self.max_new_tokens, "num_beams": self.num_beams,
                  "pad_token_id": tokenizer.pad_token_id, "do_sample": bool(self.temperature),
                  "stop_strings": STOP_STRINGS, "tokenizer": tokenizer}
        if self.temperature:
            kwargs["temperature"] = self.temperature
        if self.repetition_penalty:
            kwargs["repetition_penalty"] = self.repetition_penalty
        return kwargs


@dataclass
class Generations:
    texts: list[str]
    new_tokens: int
    seconds: float
    batch_size: int


def adaptive_batch_size(config: Any, device: str, tokens: int, num_beams: int = 1,
                        free_bytes: int | None = None) -> int:
    """Sentences per `generate` call: 32 on CPU; on CUDA the most whose KV cache, prefill activations and logits
    for `tokens` tokens fit in half the free memory, at most 256."""
    if device != "cuda":
        return CPU_BATCH_SIZE
    if free_bytes is None:
        import torch

        free_bytes = torch.cuda.mem_get_info()[0]
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    width = 2  # bytes: bf16 on CUDA
    kv_cache = 2 * text.num_hidden_layers * kv_heads * head_dim * tokens * width
    activations = 3 * tokens * max(getattr(text, "intermediate_size", 0) or 0, 4 * text.hidden_size) * width
    logits = 2 * text.vocab_size * 4
    per_sentence = (kv_cache + activations + logits) * num_beams
    fits = int(free_bytes * CUDA_MEMORY_SHARE // per_sentence)
    return max(1, min(MAX_CUDA_BATCH_SIZE, fits // 8 * 8 or fits))


def chat_prompt(tokenizer: Any, system: str, text: str, answer: str | None = None,
                examples: list[Example] | None = None) -> str:
    """The conversation as the model's chat template writes it (ready for the answer when `answer` is None);
    each worked example is an earlier user turn and its answer."""
    if not getattr(tokenizer, "chat_template", None):
        raise WorkbenchError("this model's tokenizer has no chat template; use an instruction-tuned model")
    messages = [{"role": "system", "content": system}]
    for example_text, example_answer in examples or []:
        messages += [{"role": "user", "content": example_text}, {"role": "assistant", "content": example_answer}]
    messages.append({"role": "user", "content": text})
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return tokenizer.apply_chat_template(messages, add_generation_prompt=answer is None, tokenize=False)


def generate(loaded: LoadedModel, system: str, texts: list[str], decoding: Decoding,
             progress: ProgressReporter, examples: list[Example] | None = None) -> Generations:
    """Answers for `texts`, batched by prompt length so little padding is computed; on running out of GPU
    memory the batch is halved and retried."""
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    prompts = [chat_prompt(tokenizer, system, text, examples=examples) for text in texts]
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(prompts)), key=lambda i: lengths[i])
    size = decoding.batch_size or adaptive_batch_size(model.config, loaded.device,
                                                      max(lengths, default=0) + decoding.max_new_tokens,
                                                      decoding.num_beams)
    answers = [""] * len(texts)
    new_tokens = 0
    kwargs = decoding.generate_kwargs(tokenizer)
    stops = {tokenizer.pad_token_id, tokenizer.eos_token_id}
    started = time.perf_counter()
    with torch.inference_mode(), progress.bar("Generating", total=len(texts)) as bar:
        start = 0
        while start < len(order):
            batch = order[start:start + size]
            encoded = tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True,
                                add_special_tokens=False).to(loaded.device)
            try:
                output = model.generate(**encoded, **kwargs)[:, encoded["input_ids"].shape[1]:]
            except torch.OutOfMemoryError:
                if size == 1:
                    raise WorkbenchError("out of GPU memory generating for one sentence; lower max_new_tokens, "
                                         "or use a smaller model or a bigger GPU") from None
                size //= 2
                del encoded
                torch.cuda.empty_cache()
                bar.note(f"out of GPU memory: batch {size}")
                continue
            for position, row in zip(batch, output.tolist(), strict=True):
                length = next((i + 1 for i, token in enumerate(row) if token in stops), len(row))
                new_tokens += length
                answers[position] = tokenizer.decode(row[:length], skip_special_tokens=True)
            bar.advance(len(batch))
            start += len(batch)
    return Generations(answers, new_tokens, time.perf_counter() - started, size)
