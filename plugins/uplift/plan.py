"""Planning who gets which arm: the allocation within the budget, and how value changes with the budget.

Net value of arm a for customer i is value * CATE[i, a] - cost[i, a]. Without a budget every customer gets
their best arm when it nets something; with one, the allocation maximises total net value within it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from workbench_uplift import allocation as alloc
from workbench_uplift.policy import Scores, baselines, contributions, one_hot

CURVE_POINTS = 11


def net_values(cate: np.ndarray, costs: np.ndarray, value: float) -> np.ndarray:
    return value * cate - costs


def allocate(net: np.ndarray, costs: np.ndarray, params: Any, arms: list[str], scale: float = 1.0) -> alloc.Allocation:
    """The allocation within the budget (budget, minimum spend and capacities scaled by `scale` for a sample)."""
    budget = params.budget * scale
    min_spend = None if params.min_spend is None else params.min_spend * scale
    capacity = (np.array([math.ceil(params.capacity.get(arm, len(net) / scale) * scale) for arm in arms])
                if params.capacity else None)
    alloc.check_feasible(costs, budget, min_spend, capacity)
    if params.solver == "exact" or capacity is not None:
        return alloc.exact(net, costs, budget, min_spend, capacity)
    return alloc.greedy(net, costs, budget, min_spend)


def choose(net: np.ndarray, costs: np.ndarray, params: Any, arms: list[str], scale: float = 1.0) -> np.ndarray:
    """An arm index per customer (alloc.NONE: no treatment)."""
    if params.budget is None:
        return np.where(net.max(axis=1) > 0, net.argmax(axis=1), alloc.NONE)
    return allocate(net, costs, params, arms, scale).arms


@dataclass
class HeldOut:
    """Held-out rows with their predicted effects, costs and outcome scores: what realised values come from."""

    cate: np.ndarray
    costs: np.ndarray
    scores: Scores
    scale: float  # held-out rows / all rows


def budget_curve(net: np.ndarray, costs: np.ndarray, budget: float, value: float,
                 held_out: HeldOut | None) -> pl.DataFrame:
    """Over budgets from zero to twice the given one: the value the model predicts for the optimised and the
    naive allocation, and (with held-out rows) the doubly robust value of the optimised allocation and of
    random targeting at the same spend, scaled to all rows."""
    top = min(2 * budget, float(np.where(net > 0, costs, 0).max(axis=1).sum())) or budget
    rows = []
    for point in np.linspace(0, top, CURVE_POINTS):
        row = {"budget": float(point), "optimised": alloc.greedy(net, costs, float(point)).value,
               "naive": alloc.naive(net, costs, float(point)).value}
        if held_out is not None:
            held_net = net_values(held_out.cate, held_out.costs, value)
            chosen = alloc.greedy(held_net, held_out.costs, float(point) * held_out.scale).arms
            policies = baselines(held_out.cate, held_out.costs, value, chosen)
            realised = [contributions(policies.matrices[index], held_out.scores.dr, held_out.costs, value).sum()
                        for index in (0, 2)]
            row["optimised_realised"] = float(realised[0] / held_out.scale)
            row["random_realised"] = float(realised[1] / held_out.scale)
        rows.append(row)
    return pl.DataFrame(rows)


def assignment(chosen: np.ndarray, net: np.ndarray, costs: np.ndarray, arms: list[str]) -> pl.DataFrame:
    """Per customer: the arm given (or none), its net value and its cost."""
    labels = np.array([*arms, "none"])
    policy = one_hot(chosen, len(arms))
    return pl.DataFrame({"arm": labels[np.where(chosen == alloc.NONE, len(arms), chosen)],
                         "net_value": (policy[:, 1:] * net).sum(axis=1), "cost": (policy[:, 1:] * costs).sum(axis=1)})
