"""Benchmark: relation extraction on CoNLL04 (../shared/data/conll04) with the offline SmolLM2-135M-Instruct.

    python benchmarks/relations_bench.py quality [--epochs 2]   # zero-shot dev F1, LoRA on train, dev F1 again
    python benchmarks/relations_bench.py throughput [--rows 64] [--batch-sizes 16,64,128,auto] [--random-weights]

quality: every step goes through the `relations` task (a throwaway workbench home): extraction on dev
with the closed label set, LoRA training on all of train, extraction on dev with the registered adapter.
throughput: our batched generation against the published per-sentence `pipeline(...)` loop, greedy,
on the same sentences with the same max_new_tokens; sentences/s and generated tokens/s. With
--random-weights both use a SmolLM2-architecture model with random weights whose generations run to
max_new_tokens (fixed lengths), the setting the issue allows for a GPU timing.
Prints Markdown; skips (exit 0) when the shared data is absent.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "conll04"
LABELS = ["works for", "killed", "is based in", "lives in", "is located in"]


def quality(epochs: int, learning_rate: float, batch_size: int) -> None:
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="relations-bench-")
    from workbench.registry import Registry
    from workbench.sdk.progress import RichProgress
    from workbench.testing import run_task
    from workbench_relations.conll04 import convert

    dev, train = convert(SHARED / "conll04_dev.json"), convert(SHARED / "conll04_train.json")
    common = {"text": "text", "gold": "triples", "labels": LABELS, "max_new_tokens": 64, "batch_size": 16}

    def run(data, name, **extra):
        params = {**common, **{k: v for k, v in extra.items() if k not in ("model", "register")}}
        started = time.perf_counter()
        outcome = run_task("relations", data, name, params=params, model=extra.get("model"),
                           register=extra.get("register"), registry=Registry.open(), progress=RichProgress())
        return outcome.result.metrics, time.perf_counter() - started

    zero_shot, zero_seconds = run(dev, "conll04-dev")
    trained, train_seconds = run(train, "conll04-train", mode="train", eval_rows=0, epochs=epochs,
                                 learning_rate=learning_rate, train_batch_size=batch_size, register="student")
    tuned, tuned_seconds = run(dev, "conll04-dev", model="student")
    print(f"CoNLL04 dev ({zero_shot['sentences']} sentences, {zero_shot['gold_triples']} gold triples), "
          f"strict micro-F1 with the closed label set:\n")
    print("| model | strict P | strict R | strict F1 | lenient F1 | unparsed lines | seconds |")
    print("|---|---|---|---|---|---|---|")
    for name, metrics, seconds in (("SmolLM2-135M-Instruct zero-shot", zero_shot, zero_seconds),
                                   (f"+ LoRA, {epochs} epochs on train", tuned, tuned_seconds)):
        print(f"| {name} | {metrics['strict_precision']:.1%} | {metrics['strict_recall']:.1%} | "
              f"**{metrics['strict_f1']:.1%}** | {metrics['lenient_f1']:.1%} | {metrics['unparsed_lines']} | "
              f"{seconds:.0f} |")
    print(f"\nLoRA: {trained['train_examples']} conversations, {trained['steps']} steps, loss "
          f"{trained['first_loss']} -> {trained['final_loss']}, {train_seconds:.0f} s ({trained['method']}).")


def throughput(rows: int, max_new_tokens: int, batch_sizes: list[int | None], random_weights: bool) -> None:
    import torch
    from transformers import pipeline

    from workbench.sdk.progress import ProgressReporter
    from workbench_relations.conll04 import convert
    from workbench_relations.generation import CPU_BATCH_SIZE, Decoding, generate, system_prompt
    from workbench_relations.language_model import LoadedModel, load

    device = "cuda" if torch.cuda.is_available() else "cpu"
    loaded = load(None, device)
    if random_weights:
        from transformers import AutoModelForCausalLM

        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(loaded.model.config, dtype=loaded.model.dtype).to(device).eval()
        model.generation_config.eos_token_id = None  # never stop early: every answer is max_new_tokens long
        loaded = LoadedModel(model, loaded.tokenizer, "random SmolLM2-135M", device)
    texts = convert(SHARED / "conll04_dev.json")["text"].to_list()[:rows]
    system = system_prompt(None, LABELS)
    batched = {}
    for batch_size in batch_sizes:
        decoding = Decoding(max_new_tokens=max_new_tokens, batch_size=batch_size)
        generate(loaded, system, texts[:batch_size or CPU_BATCH_SIZE], decoding, ProgressReporter())  # warm-up
        batched[batch_size] = generate(loaded, system, texts, decoding, ProgressReporter())

    generator = pipeline("text-generation", model=loaded.model, tokenizer=loaded.tokenizer, device=device)
    loop_tokens = 0
    started = time.perf_counter()
    for text in texts:  # the published loop: one pipeline call per sentence
        messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
        output = generator(messages, max_new_tokens=max_new_tokens, do_sample=False,
                           pad_token_id=loaded.tokenizer.pad_token_id)
        answer = output[0]["generated_text"][-1]["content"]
        loop_tokens += len(loaded.tokenizer(answer, add_special_tokens=False)["input_ids"]) + 1
    loop_seconds = time.perf_counter() - started
    name = torch.cuda.get_device_name() if device == "cuda" else f"CPU ({os.cpu_count()} cores)"
    print(f"{loaded.reference} on {name}, {len(texts)} CoNLL04 dev sentences, greedy, max_new_tokens="
          f"{max_new_tokens}:\n")
    print("| method | seconds | sentences/s | generated tokens/s | speed-up |")
    print("|---|---|---|---|---|")
    loop_rate = len(texts) / loop_seconds
    print(f"| per-sentence pipeline loop | {loop_seconds:.1f} | {loop_rate:.2f} | {loop_tokens / loop_seconds:.0f} "
          f"| 1.0x |")
    for batch_size, run in batched.items():
        rate = len(texts) / run.seconds
        label = f"batch {run.batch_size}" + (" (adaptive default)" if batch_size is None else "")
        print(f"| batched, {label} | {run.seconds:.1f} | {rate:.2f} | {run.new_tokens / run.seconds:.0f} "
              f"| {rate / loop_rate:.1f}x |")


def _batch_sizes(text: str) -> list[int | None]:
    """'16,64,auto' -> [16, 64, None]; auto is the task's adaptive default."""
    return [None if item.strip() == "auto" else int(item) for item in text.split(",")]


def main() -> None:
    from workbench_relations.lora import LoraSettings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["quality", "throughput"])
    parser.add_argument("--epochs", type=int, default=LoraSettings.epochs)
    parser.add_argument("--learning-rate", type=float, default=LoraSettings.learning_rate)
    parser.add_argument("--train-batch-size", type=int, default=LoraSettings.batch_size)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-sizes", type=_batch_sizes, default=_batch_sizes("16,auto"),
                        help="comma-separated batch sizes; auto: the adaptive default (32 on CPU)")
    parser.add_argument("--random-weights", action="store_true")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} not found")
        return
    if args.part == "quality":
        quality(args.epochs, args.learning_rate, args.train_batch_size)
    else:
        throughput(args.rows, args.max_new_tokens, args.batch_sizes, args.random_weights)


if __name__ == "__main__":
    main()
