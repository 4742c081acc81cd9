"""Built-in plugin `uplift`: CATE per treatment by double machine learning, and budget allocation."""

from pathlib import Path
from typing import Annotated

import typer

from workbench.sdk import Register, hookimpl
from workbench_uplift.task import Uplift


@hookimpl
def register_tasks(register: Register) -> None:
    register(Uplift())


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    @cli.command(name="uplift-data")
    def uplift_data(
        out: Annotated[Path, typer.Argument(help="CSV file to write.")],
        per_arm: Annotated[int, typer.Option(help="Rows per arm (control and three treatments).")] = 1000,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    ) -> None:
        """Write a synthetic campaign with known effects (columns true_<arm>) for demos and tests."""
        from workbench_uplift.synthetic import ARM_NAMES, campaign

        frame, truth = campaign(n_per_arm=per_arm, seed=seed)
        frame = frame.with_columns(**{f"true_{arm}": truth[:, i] for i, arm in enumerate(ARM_NAMES)})
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.write_csv(out)
        print(f"wrote {frame.height:,} rows to {out}")
