"""The `relations` task: extract relation triples with an LLM, evaluate them, label with a teacher, train LoRA."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from workbench.sdk import Result, RunContext, Task, TaskParams, WorkbenchError, advanced, column
from workbench_relations.examples import check_example_rows
from workbench_relations.lora import LoraSettings

if TYPE_CHECKING:
    import polars as pl

    from workbench.sdk import ModelRecord, RecordedRun, ReportSection
    from workbench_relations.language_model import LoadedModel


class RelationsParams(TaskParams):
    text: str = column("text", "Column with the sentences.", kind="text")
    gold: str | None = column("gold triples", "Column of gold triples, one `head|relation|tail` per line "
                              "(evaluation, and the targets for training).", None, fit_only=True)
    mode: Literal["extract", "teach", "train"] = Field(
        "extract", description="extract (and evaluate when gold is given), label with a teacher, or train LoRA.")
    base_model: str | None = Field(
        None, description="Hub id, folder or GGUF file (default: the offline SmolLM2-135M-Instruct GGUF).")
    student: bool = Field(True, description="With the default base model, extract with the CoNLL04 student "
                          "adapter shipped with the plugin; false: the plain base model.")
    examples: str | None = Field(None, description="Labelled file (the text and gold columns) whose rows go into "
                                 "the prompt as worked examples, so any instruction model writes the format.")
    example_rows: int = Field(0, ge=0, le=32, description="Take this many labelled rows of the input as worked "
                              "examples (needs gold; they are left out of the scores).")
    system_prompt: str | None = advanced(None, description="System prompt (default: the triple-per-line prompt).")
    labels: list[str] | None = Field(
        None, description="Closed set of relation labels: listed in the prompt and enforced when parsing.")
    batch_size: int | None = advanced(None, ge=1, le=512, description="Sentences generated together (default: 32 on "
                                      "CPU; on CUDA the most that fit half the free GPU memory, at most 256).")
    max_new_tokens: int = advanced(64, ge=1, le=4096, description="Most tokens generated per sentence.")
    num_beams: int = advanced(1, ge=1, le=16, description="Beam width (1: greedy).")
    temperature: float | None = advanced(None, gt=0, le=5, description="Sample at this temperature (default: greedy).")
    repetition_penalty: float | None = advanced(None, ge=1, le=3, description="Penalise repeated tokens.")
    teacher_url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1.")
    teacher_model: str | None = Field(None, description="The teacher's model name on that server.")
    teacher_key_env: str = advanced(
        "WORKBENCH_TEACHER_API_KEY", description="Environment variable holding the teacher's API key: "
        "WORKBENCH_TEACHER_API_KEY, or one named in WORKBENCH_TEACHER_KEY_VARIABLES (a comma-separated allow-list).")
    teacher_rps: float = advanced(5.0, gt=0, description="Most teacher requests started per second.")
    teacher_concurrency: int = advanced(4, ge=1, le=64, description="Teacher requests in flight at once.")
    teacher_retries: int = advanced(3, ge=0, le=10, description="Retries of a failed teacher request.")
    epochs: int = advanced(LoraSettings.epochs, ge=1, le=100, description="LoRA training epochs.")
    learning_rate: float = advanced(LoraSettings.learning_rate, gt=0, le=1, description="LoRA learning rate.")
    lora_rank: int = advanced(LoraSettings.rank, ge=1, le=256, description="LoRA rank (alpha is twice the rank).")
    train_batch_size: int = advanced(LoraSettings.batch_size, ge=1, le=256,
                                     description="Conversations per training step.")
    max_length: int = advanced(LoraSettings.max_length, ge=16, le=8192,
                               description="Tokens kept per training conversation.")
    eval_rows: int = advanced(100, ge=0, description="Rows held out of training to evaluate before and after it.")


    @field_validator("teacher_url")
    @classmethod
    def _http_only(cls, url: str | None) -> str | None:
        from workbench_relations.teacher import check_url

        return None if url is None else check_url(url)

    @model_validator(mode="after")
    def _allowed_key(self) -> RelationsParams:
        """The key variable is checked when there is a teacher to send it to."""
        from workbench_relations.teacher import key_for

        if self.teacher_url is not None:
            key_for(self.teacher_url, self.teacher_key_env)
        return self


class Relations(Task[RelationsParams]):
    name = "relations"
    title = "LLM relation extraction"
    summary = "Extract head|relation|tail triples with an LLM; evaluate, label with a teacher, distil with LoRA."
    headline = ("strict_f1", "lenient_f1", "strict_f1_after", "unparsed_share", "triples", "sentences_per_second")
    batch_table = "sentences"
    metric_words = {"lora": "LoRA"}
    gpu_batches = True
    applies_models = True

    def check(self, data: pl.DataFrame, params: RelationsParams, model: ModelRecord | None) -> None:
        from workbench.sdk import text_values
        from workbench_relations.language_model import resolve

        text_values(data, params.text)
        if model is not None:
            return
        if params.mode == "teach" and not (params.teacher_url and params.teacher_model):
            raise WorkbenchError("mode=teach needs the teacher: pass -p teacher_url=http://HOST/v1 "
                                 "-p teacher_model=NAME")
        if params.mode == "train" and (params.gold is None or params.gold not in data.columns):
            raise WorkbenchError("mode=train needs gold triples: pass -p gold=COLUMN (label sentences first with "
                                 "-p mode=teach if you have none)")
        if params.mode != "teach":
            resolve(params.base_model)
        if params.examples is not None and not Path(params.examples).is_file():
            raise WorkbenchError(f"examples file not found: {params.examples}; pass a CSV/Parquet file of labelled "
                                 "sentences")
        check_example_rows(data, params.gold, params.example_rows)

    def run(self, data: pl.DataFrame, params: RelationsParams, ctx: RunContext) -> Result:
        from workbench.sdk import text_values

        texts = text_values(data, params.text)
        if ctx.model is None and params.mode == "teach":
            return _teach(data, texts, params, ctx)
        if ctx.model is None and params.mode == "train":
            return _train(data, texts, params, ctx)
        from workbench_relations.language_model import load, load_registered, shipped_student

        if ctx.model is not None:
            loaded, manifest = load_registered(ctx.model.path, ctx.device)
            params = params.model_copy(update={"system_prompt": manifest["system_prompt"],
                                               "labels": manifest["labels"]})
        elif params.base_model is None and params.student:
            folder, manifest = shipped_student()
            loaded = load(None, ctx.device, adapter=folder)
            loaded.reference = f"{loaded.reference} + the shipped CoNLL04 student (seed {manifest['seed']})"
            params = params.model_copy(update={"system_prompt": params.system_prompt or manifest["system_prompt"],
                                               "labels": params.labels or manifest["labels"]})
        else:
            loaded = load(params.base_model, ctx.device)
        gold = _gold(data, params)
        examples, used = _examples(texts, gold, params, ctx.seed)
        if used:
            kept = [i for i in range(len(texts)) if i not in used]
            texts, gold, data = [texts[i] for i in kept], [gold[i] for i in kept], data[kept]
        result = _extract(loaded, texts, gold, params, ctx, data, examples)
        if examples:
            result.metrics["examples"] = len(examples)
            result.summary += (f"\n\n{len(examples)} worked examples in the prompt"
                               + (f" ({len(used)} input rows, left out of the output and the scores)." if used
                                  else f" (from {params.examples})."))
        return result

    def batch_scorer(self, params: RelationsParams, model: ModelRecord,
                     device: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
        from workbench_relations.language_model import load_registered

        loaded, manifest = load_registered(model.path, device)
        return Extractor(loaded, params.model_copy(update={"system_prompt": manifest["system_prompt"],
                                                           "labels": manifest["labels"]}))

    def report(self, run: RecordedRun) -> list[ReportSection]:
        """Per-relation scores, strict beside lenient."""
        from workbench.sdk import ReportSection

        table = run.tables.get("per_relation")
        if table is None or "strict_f1" not in table.columns:
            return []
        text = (f"Strict micro-F1 **{run.metrics['strict_f1']:.1%}** (lenient {run.metrics['lenient_f1']:.1%}) "
                f"over {run.metrics['sentences']:,} sentences; {run.metrics['unparsed_lines']} lines did not parse.")
        return [ReportSection("Relation extraction quality", text, table)]


def _gold(data: pl.DataFrame, params: RelationsParams) -> Any:
    from workbench_relations.triples import parse_gold

    if params.gold is None or params.gold not in data.columns:
        return None
    return [parse_gold(value) for value in data[params.gold].cast(str).to_list()]


def _examples(texts: Any, gold: Any, params: RelationsParams, seed: int) -> Any:
    """Worked examples for the prompt, and the input rows they were taken from."""
    from workbench_relations.examples import examples_from_file, examples_from_rows

    if params.examples is not None:
        return examples_from_file(params.examples, params.text, params.gold or "triples"), set()
    if params.example_rows:
        return examples_from_rows(texts, gold, params.example_rows, seed)
    return [], set()


def _decoding(params: RelationsParams) -> Any:
    from workbench_relations.generation import Decoding

    return Decoding(params.max_new_tokens, params.batch_size, params.num_beams, params.temperature,
                    params.repetition_penalty)


def _extract(loaded: LoadedModel, texts: Any, gold: Any, params: RelationsParams, ctx: RunContext,
             data: pl.DataFrame | None = None, examples: Any=None) -> Result:
    from workbench_relations.generation import generate, system_prompt
    from workbench_relations.report import extraction_result

    system = system_prompt(params.system_prompt, params.labels)
    generations = generate(loaded, system, texts, _decoding(params), ctx.progress, examples)
    return extraction_result(texts, generations, gold, params.labels, loaded.reference, data)


class Extractor:
    """A registered model's triples for batches of sentences (the model and any examples file are loaded once)."""

    def __init__(self, loaded: LoadedModel, params: RelationsParams) -> None:
        from workbench_relations.examples import examples_from_file
        from workbench_relations.generation import system_prompt

        self.loaded, self.params = loaded, params
        self.system = system_prompt(params.system_prompt, params.labels)
        self.examples = examples_from_file(params.examples, params.text, params.gold or "triples") \
            if params.examples else None

    def __call__(self, batch: pl.DataFrame) -> pl.DataFrame:
        from workbench.sdk import ProgressReporter, text_values
        from workbench_relations.generation import generate
        from workbench_relations.report import sentences_frame
        from workbench_relations.triples import parse_output

        texts = text_values(batch, self.params.text)
        generations = generate(self.loaded, self.system, texts, _decoding(self.params), ProgressReporter(),
                               self.examples)
        return sentences_frame(batch, [parse_output(answer, self.params.labels) for answer in generations.texts])


def _teach(data: pl.DataFrame, texts: Any, params: RelationsParams, ctx: RunContext) -> Result:
    import polars as pl

    from workbench_relations.generation import system_prompt
    from workbench_relations.teacher import Teacher, TeacherSettings
    from workbench_relations.triples import parse_output, write_lines

    settings = TeacherSettings(params.teacher_url, params.teacher_model, params.teacher_key_env,
                               max(params.max_new_tokens, 128), params.teacher_rps, params.teacher_concurrency,
                               params.teacher_retries)
    teacher = Teacher(settings, ctx.cache(f"teacher:{settings.fingerprint()}"))
    answers = teacher.label(system_prompt(params.system_prompt, params.labels), texts, ctx.progress)
    parsed = [parse_output(answer, params.labels) for answer in answers]
    column = params.gold or "triples"
    labelled = data.with_columns(pl.Series(column, [write_lines(p.triples) for p in parsed]))
    unparsed = sum(len(p.unparsed) for p in parsed)
    metrics = {"sentences": len(texts), "triples": sum(len(p.triples) for p in parsed), "unparsed_lines": unparsed,
               "teacher_requests": teacher.requested, "teacher_cached": teacher.cached}
    summary = (f"The teacher `{params.teacher_model}` labelled {len(texts):,} sentences ({teacher.cached:,} from the "
               f"cache): {metrics['triples']:,} triples in column `{column}`, {unparsed} lines that did not parse. "
               f"Train on it with `-p mode=train -p gold={column}`.")
    return Result(tables={"labelled": labelled}, metrics=metrics, summary=summary)


def _train(data: pl.DataFrame, texts: Any, params: RelationsParams, ctx: RunContext) -> Result:
    import numpy as np

    from workbench_relations.generation import system_prompt
    from workbench_relations.language_model import ADAPTER_FOLDER, MANIFEST, load
    from workbench_relations.lora import train
    from workbench_relations.report import training_result
    from workbench_relations.triples import write_lines

    gold = _gold(data, params)  # present: checked before the run
    order = np.random.default_rng(ctx.seed).permutation(len(texts))
    held_out = sorted(order[:min(params.eval_rows, len(texts) - 1)].tolist())
    train_rows = sorted(order[len(held_out):].tolist())
    system = system_prompt(params.system_prompt, params.labels)
    quantized = ctx.device == "cuda" and _has_bitsandbytes()
    loaded = load(params.base_model, ctx.device, quantize_4bit=quantized)
    before = _extract(loaded, [texts[i] for i in held_out], [gold[i] for i in held_out], params, ctx) \
        if held_out else None
    settings = LoraSettings(params.epochs, params.learning_rate, params.lora_rank, 2 * params.lora_rank,
                            params.train_batch_size, params.max_length, ctx.seed)
    loaded.model, losses = train(loaded, system, [texts[i] for i in train_rows],
                                 [write_lines(gold[i]) for i in train_rows], settings, ctx.progress, quantized)
    after = _extract(loaded, [texts[i] for i in held_out], [gold[i] for i in held_out], params, ctx) \
        if held_out else None
    folder = ctx.new_model_dir("relations")
    loaded.model.save_pretrained(str(folder / ADAPTER_FOLDER))
    manifest = {"base_model": params.base_model, "system_prompt": params.system_prompt, "labels": params.labels,
                "qlora": quantized}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return training_result(before, after, losses, len(train_rows), settings, folder, quantized)


def _has_bitsandbytes() -> bool:
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None
