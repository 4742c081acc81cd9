"""The `fewshot` task: train a text classifier from a few labels, apply it, or evaluate it on labelled rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from workbench.sdk import Result, RunContext, Task, TaskParams, WorkbenchError, advanced, column

if TYPE_CHECKING:
    import polars as pl

    from workbench.sdk import ModelRecord, RecordedRun, ReportSection


class FewShotParams(TaskParams):
    text: str = column("text", "Column with the texts to classify.", kind="text")
    label: str | None = column("label", "Column with the labels, for training and evaluation.", None, fit_only=True)
    method: Literal["setfit", "embeddings", "zeroshot"] = Field(
        "setfit", description="SetFit fine-tuning, frozen embeddings + logistic regression, or zero-shot cosine.")
    shots: int | None = Field(
        None, ge=1, description="Examples sampled per class to train on (default: every row); the rest are held out.")
    backbone: str | None = advanced(
        None, description="Sentence-transformer folder or hub id (default: the offline all-MiniLM-L6-v2).")
    epochs: int = advanced(1, ge=1, le=100, description="SetFit contrastive epochs.")
    iterations: int = advanced(20, ge=1, le=1000, description="SetFit pair iterations: 2 x iterations x examples.")
    batch_size: int = advanced(16, ge=1, le=1024, description="Batch size for training and for embedding.")
    max_length: int | None = advanced(128, ge=8, le=8192, description="Tokens kept per text (longer texts are cut).")
    label_descriptions: dict[str, str] | None = Field(
        None, description='Zero-shot: what each label means, e.g. {"1": "a sensational headline"} (default: names).')
    eval_data: str | None = Field(
        None, description="A labelled file (CSV, Parquet, JSON lines; the same text and label columns) evaluated "
        "after training, in the same run.")
    seeds: list[Annotated[int, Field(ge=0, le=2**32 - 1)]] | None = advanced(
        None, description="Train and evaluate once per seed (e.g. 0,1,2,3,4): mean ± sd and each seed; the first "
        "seed's model is registered (default: the run's --seed only).")
    eval_rows: int = advanced(1000, ge=0, description="Held-out rows evaluated after training (0: none).")
    cache: bool = advanced(True, description="Reuse embeddings cached by (model, text) in the workbench home.")


class FewShot(Task[FewShotParams]):
    name = "fewshot"
    title = "Few-shot text classification"
    summary = "Classify texts from a few labelled examples: SetFit, embeddings + logistic regression, or zero-shot."
    applies_models = True
    headline = ("accuracy", "macro_f1", "accuracy_sd", "train_examples")
    batch_table = "predictions"
    gpu_batches = True

    def check(self, data: pl.DataFrame, params: FewShotParams, model: ModelRecord | None) -> None:
        from pathlib import Path

        from workbench.sdk import text_values
        from workbench_fewshot.backbone import resolve_backbone
        from workbench_fewshot.data import check_classes, labels_of

        text_values(data, params.text)
        if model is not None:
            return
        if params.label is None and not (params.method == "zeroshot" and params.label_descriptions):
            raise WorkbenchError("training needs the label column: pass -p label=COLUMN "
                                 "(zero-shot may pass -p label_descriptions=... instead)")
        if params.label is not None:
            check_classes(labels_of(data, params.label), params.label)
        if params.eval_data is not None:
            if params.label is None:
                raise WorkbenchError("eval_data needs the label column: pass -p label=COLUMN")
            if not Path(params.eval_data).is_file():
                raise WorkbenchError(f"eval_data file not found: {params.eval_data}")
        resolve_backbone(params.backbone)

    def batch_scorer(self, params: FewShotParams, model: ModelRecord,
                     device: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
        from workbench_fewshot.predict import Predictions
        from workbench_fewshot.store import load_classifier

        return Predictions(load_classifier(model.path, model.sha256, device, lambda key: None), params.text)

    def run(self, data: pl.DataFrame, params: FewShotParams, ctx: RunContext) -> Result:
        from workbench.sdk import text_values
        from workbench_fewshot.training import train

        texts = text_values(data, params.text)
        if ctx.model is not None:
            return self._apply(data, texts, params, ctx)
        return train(data, texts, params, ctx)

    def _apply(self, data: pl.DataFrame, texts: list[str], params: FewShotParams, ctx: RunContext) -> Result:
        from workbench_fewshot.backbone import embedding_cache
        from workbench_fewshot.data import labels_of
        from workbench_fewshot.predict import predict, predictions_frame, speed
        from workbench_fewshot.report import confusion_chart, evaluate
        from workbench_fewshot.store import load_classifier
        from workbench_fewshot.training import METHOD_TITLES

        assert ctx.model is not None
        classifier = load_classifier(ctx.model.path, ctx.model.sha256, ctx.device,
                                     lambda key: embedding_cache(ctx, key, params.cache))
        probabilities, seconds = predict(classifier, texts, ctx.progress)
        result = Result(tables={"predictions": predictions_frame(data, classifier, probabilities)},
                        metrics={"method": classifier.method, "rows": len(texts),
                                 **speed(classifier, len(texts), seconds)})
        title = f"Applied model {ctx.model.ref} to {len(texts):,} texts with **{METHOD_TITLES[classifier.method]}**."
        if params.label is not None and params.label in data.columns:
            metrics, per_label, confusion = evaluate(labels_of(data, params.label), probabilities, classifier.labels)
            result.metrics.update(metrics)
            result.tables.update(per_label=per_label, confusion=confusion)
            result.charts["confusion"] = confusion_chart(confusion, f"Accuracy {metrics['accuracy']:.1%} on "
                                                                    f"{len(texts):,} texts")
            title += (f"\n\nOn these {len(texts):,} labelled texts: accuracy **{metrics['accuracy']:.1%}**, macro F1 "
                      f"{metrics['macro_f1']:.3f}.")
        result.summary = title
        return result

    def report(self, run: RecordedRun) -> list[ReportSection]:
        """Per-label quality, weakest recall first, beside the confusion matrix."""
        from workbench.sdk import ReportSection

        per_label = run.tables.get("per_label")
        if per_label is None:
            return []
        per_label = per_label.sort("recall")
        weakest = per_label.row(0, named=True)
        text = (f"Accuracy {run.metrics['accuracy']:.1%} on {run.metrics['eval_rows']:,} labelled texts. The label "
                f"found least often is `{weakest['label']}`: recall {weakest['recall']:.1%}, precision "
                f"{weakest['precision']:.1%}.")
        return [ReportSection("Per-label quality", text, per_label)]
