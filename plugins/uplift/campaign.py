"""The uplift data contract: arms, outcome, effect modifiers, IDs and costs, checked and encoded.

Effect modifiers default to every column that is not the treatment, the outcome, an ID, a confounder, a cost
or truth column or one the user excludes; a column with a distinct value in every row is taken for an ID.
Categorical modifiers are one-hot encoded with one level dropped per column, so the final stage's design
has no column that is a sum of others (EconML's intervals are then valid).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from workbench.sdk import WorkbenchError


@dataclass
class Campaign:
    X: np.ndarray
    W: np.ndarray | None
    outcome: np.ndarray | None
    treatment: np.ndarray | None  # arm label per row (absent when scoring customers not yet treated)
    arms: list[str]  # treated arms, control excluded
    control: str
    costs: np.ndarray  # rows x arms (zeros without a budget)
    binary_outcome: bool
    features: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def arm_index(self) -> np.ndarray:
        """0 for control, i + 1 for arm i, per row."""
        assert self.treatment is not None
        index = np.zeros(len(self.treatment), dtype=int)
        for position, arm in enumerate(self.arms):
            index[self.treatment == arm] = position + 1
        return index


def encode(frame: pl.DataFrame, state: dict | None) -> tuple[np.ndarray | None, dict | None]:
    """A float matrix of `frame`: categoricals one-hot (first level dropped), or as the fitted encoder did."""
    from workbench.sdk import RobustOneHotEncoder

    if frame.width == 0:
        return None, None
    if state is not None:
        encoder = RobustOneHotEncoder.from_dict(state)
    elif any(not dtype.is_numeric() for dtype in frame.dtypes):
        encoder = RobustOneHotEncoder(drop_first=True).fit(frame)
    else:
        return frame.cast(pl.Float64).to_numpy(), None
    return encoder.transform(frame).cast(pl.Float64).to_numpy(), encoder.to_dict()


def arm_costs(data: pl.DataFrame, arms: list[str], costs: dict[str, float] | None,
              cost_columns: dict[str, str] | None) -> np.ndarray:
    """Per row and arm: a column named in `cost_columns`, else the arm's constant from `costs`."""
    costs, cost_columns = costs or {}, cost_columns or {}
    columns = []
    for arm in arms:
        if arm in cost_columns:
            if cost_columns[arm] not in data.columns:
                raise WorkbenchError(f"cost column {cost_columns[arm]!r} of arm {arm!r} is not in the data")
            columns.append(data[cost_columns[arm]].cast(pl.Float64).fill_null(0).to_numpy())
        elif arm in costs:
            columns.append(np.full(data.height, float(costs[arm])))
        else:
            raise WorkbenchError(f"no cost for arm {arm!r}; add it to costs (e.g. costs='{{\"{arm}\": 0.2}}') "
                                 "or to cost_columns")
    return np.column_stack(columns)


def check_contract(data: pl.DataFrame, params, fitted: dict | None = None) -> list[str]:
    """Refuse data the uplift task cannot use; the treated arms (a registered model's, when applying)."""
    arms = fitted["arms"] if fitted else []
    if params.treatment in data.columns:
        treatment = data[params.treatment]
        if treatment.null_count():
            raise WorkbenchError(f"treatment column {params.treatment!r} has {treatment.null_count()} missing "
                                 "values; give every row an arm (the control label for untreated rows)")
        labels = sorted(str(label) for label in treatment.cast(pl.String).unique().to_list())
        if fitted is None:
            if len(labels) < 2:
                raise WorkbenchError(f"treatment column {params.treatment!r} has one arm ({labels[0]!r}); uplift "
                                     "needs a control arm and at least one treated arm")
            if params.control not in labels:
                raise WorkbenchError(f"control label {params.control!r} is not in {params.treatment!r}; labels "
                                     f"are: {', '.join(labels)} (set control=...)")
            arms = [label for label in labels if label != params.control]
    elif fitted is None:
        raise WorkbenchError(f"treatment column {params.treatment!r} is not in the data")
    if params.outcome in data.columns:
        values = data[params.outcome]
        if not values.dtype.is_numeric():
            raise WorkbenchError(f"outcome column {params.outcome!r} is {values.dtype}, not numeric; encode it as "
                                 "numbers (0/1 for a conversion)")
        if values.null_count():
            raise WorkbenchError(f"outcome column {params.outcome!r} has {values.null_count()} missing values")
    elif fitted is None:
        raise WorkbenchError(f"outcome column {params.outcome!r} is not in the data")
    if params.id is not None and data[params.id].n_unique() != data.height:
        raise WorkbenchError(f"ID column {params.id!r} repeats values; pass a column with one value per row")
    if params.budget is not None:
        arm_costs(data.head(1), arms, params.costs, params.cost_columns)
    if fitted is None:
        features, _ = modifiers(data, params)
        if not features:
            raise WorkbenchError("no effect modifier is left once the treatment, outcome, IDs and excluded columns "
                                 "are set aside; pass features=...")
    return arms


def modifiers(data: pl.DataFrame, params) -> tuple[list[str], list[str]]:
    """The effect modifiers (given, or every other column) and the ID-like columns left out of the default."""
    if params.features:
        return list(params.features), []
    excluded = {params.treatment, params.outcome, params.id, *(params.exclude or []), *(params.confounders or []),
                *(params.cost_columns or {}).values(), *(params.truth_columns or {}).values()}
    candidates = [name for name in data.columns if name not in excluded]
    ids = [name for name in candidates if looks_like_id(data[name])]
    return [name for name in candidates if name not in ids], ids


def looks_like_id(column: pl.Series) -> bool:
    """A text or integer column whose every value is distinct (a customer number, say)."""
    dtype = column.dtype
    return (dtype == pl.String or dtype.is_integer()) and column.len() > 20 and column.n_unique() == column.len()


def prepare(data: pl.DataFrame, params, fitted: dict | None = None) -> tuple[Campaign, dict]:
    """Check the contract and encode; `fitted` (from a registered model) fixes arms, features and encoders."""
    arms = check_contract(data, params, fitted)
    notes = []
    if fitted is not None:
        features, confounders = fitted["features"], fitted["confounders"]
    else:
        features, ids = modifiers(data, params)
        confounders = params.confounders or []
        if ids:
            notes.append(f"Left out of the effect modifiers as IDs (a distinct value in every row): "
                         f"{', '.join(ids)}.")
    X, x_state = encode(data.select(features), fitted["x_encoder"] if fitted else None)
    W, w_state = encode(data.select(confounders), fitted["w_encoder"] if fitted else None)
    outcome = data[params.outcome].cast(pl.Float64).to_numpy() if params.outcome in data.columns else None
    treatment = data[params.treatment].cast(pl.String).to_numpy() if params.treatment in data.columns else None
    binary = fitted["binary_outcome"] if fitted else bool(outcome is not None and set(np.unique(outcome)) <= {0, 1})
    costs = (arm_costs(data, arms, params.costs, params.cost_columns) if params.budget is not None
             else np.zeros((data.height, len(arms))))
    assert X is not None
    campaign = Campaign(X, W, outcome, treatment, arms, params.control, costs, binary, features, notes)
    state = {"arms": arms, "control": params.control, "features": features, "confounders": confounders,
             "x_encoder": x_state, "w_encoder": w_state, "binary_outcome": binary}
    return campaign, state
