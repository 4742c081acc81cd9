"""The uplift data contract: arms, outcome, features, confounders and costs, checked and encoded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from workbench.sdk import WorkbenchError


@dataclass
class Campaign:
    X: np.ndarray
    W: np.ndarray | None
    outcome: np.ndarray | None
    treatment: np.ndarray  # arm label per row
    arms: list[str]  # treated arms, control excluded
    control: str
    costs: np.ndarray  # rows x arms
    binary_outcome: bool
    features: list[str]


def _encode(frame: pl.DataFrame, state: dict | None):
    from workbench.sdk import RobustOneHotEncoder

    if frame.width == 0:
        return None, None
    if state is not None:
        encoder = RobustOneHotEncoder.from_dict(state)
    elif any(not dtype.is_numeric() for dtype in frame.dtypes):
        encoder = RobustOneHotEncoder().fit(frame)
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
    treatment = data[params.treatment]
    if treatment.null_count():
        raise WorkbenchError(f"treatment column {params.treatment!r} has {treatment.null_count()} missing values; "
                             "give every row an arm (the control label for untreated rows)")
    labels = sorted(str(label) for label in treatment.cast(pl.String).unique().to_list())
    if fitted is None:
        if len(labels) < 2:
            raise WorkbenchError(f"treatment column {params.treatment!r} has one arm ({labels[0]!r}); uplift needs "
                                 "a control arm and at least one treated arm")
        if params.control not in labels:
            raise WorkbenchError(f"control label {params.control!r} is not in {params.treatment!r}; labels are: "
                                 f"{', '.join(labels)} (set control=...)")
    if params.outcome in data.columns:
        values = data[params.outcome]
        if not values.dtype.is_numeric():
            raise WorkbenchError(f"outcome column {params.outcome!r} is {values.dtype}, not numeric; encode it as "
                                 "numbers (0/1 for a conversion)")
        if values.null_count():
            raise WorkbenchError(f"outcome column {params.outcome!r} has {values.null_count()} missing values")
    elif fitted is None:
        raise WorkbenchError(f"outcome column {params.outcome!r} is not in the data")
    arms = fitted["arms"] if fitted else [label for label in labels if label != params.control]
    if params.budget is not None:
        arm_costs(data.head(1), arms, params.costs, params.cost_columns)
    return arms


def prepare(data: pl.DataFrame, params, fitted: dict | None = None) -> tuple[Campaign, dict]:
    """Check the contract and encode; `fitted` (from a registered model) fixes arms, features and encoders."""
    arms = check_contract(data, params, fitted)
    treatment = data[params.treatment]
    outcome = data[params.outcome].cast(pl.Float64).to_numpy() if params.outcome in data.columns else None
    excluded = {params.treatment, params.outcome, *(params.confounders or []), *(params.cost_columns or {}).values(),
                *(params.truth_columns or {}).values()}
    features = fitted["features"] if fitted else (params.features or [c for c in data.columns if c not in excluded])
    confounders = fitted["confounders"] if fitted else (params.confounders or [])
    X, x_state = _encode(data.select(features), fitted and fitted["x_encoder"])
    W, w_state = _encode(data.select(confounders), fitted and fitted["w_encoder"])
    binary = fitted["binary_outcome"] if fitted else bool(outcome is not None and set(np.unique(outcome)) <= {0.0, 1.0})
    costs = (arm_costs(data, arms, params.costs, params.cost_columns) if params.budget is not None
             else np.zeros((data.height, len(arms))))
    campaign = Campaign(X, W, outcome, treatment.cast(pl.String).to_numpy(), arms, params.control, costs, binary,
                        features)
    state = {"arms": arms, "control": params.control, "features": features, "confounders": confounders,
             "x_encoder": x_state, "w_encoder": w_state, "binary_outcome": binary}
    return campaign, state
