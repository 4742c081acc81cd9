"""Batched generation with the tokenizer's chat template and left padding, worked examples as earlier turns,
stop sequences; tokens counted for throughput."""

from __future__ import annotations

import time
from dataclasses import dataclass

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
Example = tuple[str, str]  # (text, answer lines)


@dataclass
class Decoding:
    """Greedy by default; beam search with `num_beams` > 1; sampling when `temperature` is set."""

    max_new_tokens: int = 64
    batch_size: int = 16
    num_beams: int = 1
    temperature: float | None = None
    repetition_penalty: float | None = None

    def generate_kwargs(self, tokenizer) -> dict:
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


def chat_prompt(tokenizer, system: str, text: str, answer: str | None = None,
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
    """Answers for `texts`, batched by prompt length so little padding is computed."""
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    prompts = [chat_prompt(tokenizer, system, text, examples=examples) for text in texts]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers = [""] * len(texts)
    new_tokens = 0
    kwargs = decoding.generate_kwargs(tokenizer)
    stops = {tokenizer.pad_token_id, tokenizer.eos_token_id}
    started = time.perf_counter()
    with torch.inference_mode(), progress.bar("Generating", total=len(texts)) as bar:
        for start in range(0, len(order), decoding.batch_size):
            batch = order[start:start + decoding.batch_size]
            encoded = tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True,
                                add_special_tokens=False).to(loaded.device)
            output = model.generate(**encoded, **kwargs)[:, encoded["input_ids"].shape[1]:]
            for position, row in zip(batch, output.tolist(), strict=True):
                length = next((i + 1 for i, token in enumerate(row) if token in stops), len(row))
                new_tokens += length
                answers[position] = tokenizer.decode(row[:length], skip_special_tokens=True)
            bar.advance(len(batch))
    return Generations(answers, new_tokens, time.perf_counter() - started)
