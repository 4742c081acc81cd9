"""Built-in plugin `relations`: LLM relation extraction (batched generation), teacher labelling, LoRA distillation."""

from pathlib import Path
from typing import Annotated

import typer

from workbench.sdk import Register, hookimpl
from workbench_relations.task import Relations


@hookimpl
def register_tasks(register: Register) -> None:
    register(Relations())


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    @cli.command("conll04")
    def conll04(source: Annotated[Path, typer.Argument(help="CoNLL04 JSON in SpERT's format.")],
                target: Annotated[Path, typer.Argument(help="CSV to write: id, text, triples.")]) -> None:
        """Convert CoNLL04 (SpERT JSON) to a CSV of sentences and gold triples for the relations task."""
        from workbench_relations.conll04 import convert

        frame = convert(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.write_csv(target)
        print(f"wrote {frame.height:,} sentences to {target}")
