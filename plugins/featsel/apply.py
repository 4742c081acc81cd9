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


class Predictor:
    """The selection, its encoder and its model, loaded once; called on rows, it adds the prediction."""

    def __init__(self, folder: Path, trusted: frozenset[str]) -> None:
        from workbench.sdk import RobustOneHotEncoder, load_skops

        self.folder = folder
        self.selection = json.loads((folder / "selection.json").read_text())
        encoder_file = folder / "encoder.json"
        self.encoder = (RobustOneHotEncoder.from_dict(json.loads(encoder_file.read_text()))
                        if encoder_file.exists() else None)
        self.model = load_skops(folder / "model.skops", trusted)
        self.column = f"predicted_{self.selection['target']}"

    def __call__(self, data: pl.DataFrame) -> pl.DataFrame:
        check_inputs(data, self.folder)
        features = data.select(self.selection["input_features"])
        if self.encoder is not None:
            features = self.encoder.transform(features)
        X = features.cast(pl.Float64).to_numpy()[:, np.array(self.selection["columns"])]
        return data.with_columns(pl.Series(self.column, self.model.predict(X)))


def predict(data: pl.DataFrame, folder: Path, trusted: frozenset[str]) -> Result:
    predictor = Predictor(folder, trusted)
    predictions = predictor(data)
    selection = predictor.selection
    summary = (f"Predicted `{selection['target']}` for {data.height:,} rows with the {len(selection['features'])} "
               f"selected features: {', '.join(selection['features'])}.")
    return Result(tables={"predictions": predictions}, metrics={"rows": data.height}, summary=summary)
