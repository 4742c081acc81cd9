"""Apply mode: predict new rows with a registered selection and its refitted model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from workbench.sdk import Result, WorkbenchError


def check_inputs(data: pl.DataFrame, folder: Path) -> None:
    """Refuse data that lacks a column the model was trained on."""
    selection = json.loads((folder / "selection.json").read_text())
    missing = [name for name in selection["input_features"] if name not in data.columns]
    if missing:
        raise WorkbenchError(f"column {missing[0]!r} the model was trained on is missing; "
                             f"columns are: {', '.join(data.columns)}")


def predict(data: pl.DataFrame, folder: Path) -> Result:
    from workbench.sdk import RobustOneHotEncoder, load_skops

    check_inputs(data, folder)
    selection = json.loads((folder / "selection.json").read_text())
    features = data.select(selection["input_features"])
    encoder_file = folder / "encoder.json"
    if encoder_file.exists():
        encoder = RobustOneHotEncoder.from_dict(json.loads(encoder_file.read_text()))
        features = encoder.transform(features)
    X = features.cast(pl.Float64).to_numpy()[:, np.array(selection["columns"])]
    model = load_skops(folder / "model.skops")
    predictions = data.with_columns(pl.Series(f"predicted_{selection['target']}", model.predict(X)))
    summary = (f"Predicted `{selection['target']}` for {data.height:,} rows with the {len(selection['features'])} "
               f"selected features: {', '.join(selection['features'])}.")
    return Result(tables={"predictions": predictions}, metrics={"rows": data.height}, summary=summary)
