"""The uplift data contract: arms, outcome, effect modifiers, IDs and costs, checked and encoded.

Effect modifiers default to every column that is not the treatment, the outcome, an ID, a confounder, a cost
or truth column or one the user excludes; a column with a distinct value in every row is taken for an ID, and
a column that looks like another outcome is left out with a warning: named like one, or, when the arms were
assigned at random (`assignment=randomised`, the default), differing between the arms beyond chance, which a
characteristic measured before treatment cannot do in a randomised test. With `assignment=observational` such
differences are expected (confounding) and those columns are kept. The treatment and the outcome can never be
effect modifiers.
Categorical modifiers are one-hot encoded with one level dropped per column, so the final stage's design
has no column that is a sum of others (EconML's intervals are then valid).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

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


def check_contract(data: pl.DataFrame, params: Any, fitted: dict | None = None) -> list[str]:
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
        for role, column in (("treatment", params.treatment), ("outcome", params.outcome)):
            for option in ("features", "confounders"):
                if column in (getattr(params, option) or []):
                    raise WorkbenchError(f"the {role} column {column!r} cannot be in {option}: a model that reads "
                                         f"the {role} predicts nothing about a customer before treatment; drop it")
        named = [*(params.cost_columns or {}).values(), *(params.truth_columns or {}).values()]
        missing = [name for name in named if name not in data.columns]
        if missing:
            raise WorkbenchError(f"column {missing[0]!r} (cost_columns or truth_columns) is not in the data; columns "
                                 f"are: {', '.join(data.columns)}")
        features, _, _ = modifiers(data, params)
        if not features:
            raise WorkbenchError("no effect modifier is left once the treatment, outcome, IDs and excluded columns "
                                 "are set aside; pass features=...")
    return arms


# Words that name outcomes: a column called like this is not a characteristic known before treatment.
OUTCOME_WORDS = re.compile(r"(^|[_\s-])(outcome|target|label|response|conversion|converted|convert|spend|spent|"
                           r"revenue|purchase|purchased|order|orders|sales|churn|churned|click|clicks|visit|"
                           r"visited|y)($|[_\s-])", re.IGNORECASE)
BALANCE_P = 1e-3  # family-wise: a column differing between arms with p below this / candidates is outcome-like


def modifiers(data: pl.DataFrame, params: Any) -> tuple[list[str], list[str], list[str]]:
    """The effect modifiers (given, or every other column), and the ID-like and outcome-like columns left out of
    the default."""
    if params.features:
        return list(params.features), [], []
    excluded = {params.treatment, params.outcome, params.id, *(params.exclude or []), *(params.confounders or []),
                *(params.cost_columns or {}).values(), *(params.truth_columns or {}).values()}
    candidates = [name for name in data.columns if name not in excluded]
    ids = [name for name in candidates if looks_like_id(data[name])]
    kept = [name for name in candidates if name not in ids]
    outcomes = outcome_like(data, kept, params.treatment, params.outcome, params.assignment == "randomised")
    return [name for name in kept if name not in outcomes], ids, outcomes


def outcome_like(data: pl.DataFrame, columns: list[str], treatment: str, outcome: str,
                 randomised: bool) -> list[str]:
    """Columns named like an outcome and, in a randomised test, columns whose values differ between the arms beyond
    chance (a one-way ANOVA for numbers, a chi-squared test for categories, Bonferroni over the columns tested)."""
    from scipy import stats

    if treatment not in data.columns:
        return []
    outcome_words = {word for word in re.split(r"[_\s-]+", outcome.lower()) if len(word) > 2}
    found = [name for name in columns if OUTCOME_WORDS.search(name)
             or outcome_words & {word for word in re.split(r"[_\s-]+", name.lower())}]
    if not randomised:
        return found
    arms = data[treatment].cast(pl.String)
    threshold = BALANCE_P / max(len(columns), 1)
    for name in columns:
        if name in found:
            continue
        column = data[name]
        if column.dtype.is_numeric() and column.dtype != pl.Boolean:
            groups = [group for group in (column.filter(arms == arm).drop_nulls().cast(pl.Float64).to_numpy()
                                          for arm in arms.unique().to_list()) if len(group) > 1]
            if len(groups) < 2 or all(np.ptp(group) == 0 for group in groups):
                continue
            p_value = stats.f_oneway(*groups).pvalue
        else:
            table = pl.DataFrame({"arm": arms, "value": column.cast(pl.String)}).pivot(
                on="value", index="arm", values="value", aggregate_function="len").fill_null(0)
            counts = table.drop("arm").to_numpy()
            if counts.shape[1] < 2 or counts.shape[1] > 100:
                continue
            p_value = stats.chi2_contingency(counts).pvalue
        if p_value < threshold:
            found.append(name)
    return found


def looks_like_id(column: pl.Series) -> bool:
    """A text or integer column whose every value is distinct (a customer number, say)."""
    dtype = column.dtype
    return (dtype == pl.String or dtype.is_integer()) and column.len() > 20 and column.n_unique() == column.len()


def prepare(data: pl.DataFrame, params: Any, fitted: dict | None = None) -> tuple[Campaign, dict]:
    """Check the contract and encode; `fitted` (from a registered model) fixes arms, features and encoders."""
    arms = check_contract(data, params, fitted)
    notes = []
    if fitted is not None:
        features, confounders = fitted["features"], fitted["confounders"]
    else:
        features, ids, outcomes = modifiers(data, params)
        confounders = params.confounders or []
        if ids:
            notes.append(f"Left out of the effect modifiers as IDs (a distinct value in every row): "
                         f"{', '.join(ids)}.")
        if outcomes:
            why = ("named like an outcome, or differing between the arms beyond chance, which in a randomised test "
                   "means measured after treatment" if params.assignment == "randomised" else "named like an outcome")
            notes.append(f"**Warning:** left out of the effect modifiers as outcome-like ({why}): "
                         f"{', '.join(outcomes)}. Name the modifiers with features=... to use any of them"
                         + (", or set assignment=observational if the arms were not assigned at random (then "
                            "differences between arms are confounding, and those columns are kept)."
                            if params.assignment == "randomised" else "."))
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
