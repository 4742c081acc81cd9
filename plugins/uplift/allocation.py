"""Budget allocation: at most one arm per customer, total cost within the budget, most net value.

`values[i, a]` is customer i's net value of arm a (value x CATE - cost) and `costs[i, a]` its cost.
Three strategies: the naive one, a fast multiple-choice-knapsack greedy with its LP bound, and an
exact integer program (SCIP through OR-Tools).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.sdk import WorkbenchError

NONE = -1  # arm index of a customer who is not treated


@dataclass
class Allocation:
    """One arm index per customer (NONE for untreated), the totals, and the bound where known."""

    arms: np.ndarray
    value: float
    cost: float
    bound: float | None
    seconds: float
    solver: str

    @property
    def gap(self) -> float | None:
        return None if self.bound is None else max(self.bound - self.value, 0.0)


def _totals(arms: np.ndarray, values: np.ndarray, costs: np.ndarray) -> tuple[float, float]:
    treated = arms != NONE
    rows = np.flatnonzero(treated)
    return float(values[rows, arms[treated]].sum()), float(costs[rows, arms[treated]].sum())


def check_feasible(costs: np.ndarray, budget: float, min_spend: float | None, capacity: np.ndarray | None) -> None:
    """Refuse a budget below zero or a minimum spend no allocation can reach."""
    if budget < 0:
        raise WorkbenchError(f"budget is {budget:g}; it must be zero or more")
    if min_spend is None:
        return
    if min_spend > budget:
        raise WorkbenchError(f"minimum spend {min_spend:g} exceeds the budget {budget:g}; lower it or raise the budget")
    most = costs.max(axis=1)
    if capacity is not None:  # the most any capacity-respecting allocation can spend is at most this
        per_arm = [np.sort(costs[:, a])[::-1][: int(capacity[a])].sum() for a in range(costs.shape[1])]
        most_total = min(float(most.sum()), float(sum(per_arm)))
    else:
        most_total = float(most.sum())
    if min_spend > most_total:
        raise WorkbenchError(f"minimum spend {min_spend:g} is out of reach: treating every customer with their "
                             f"dearest arm costs {most_total:g}; lower the minimum spend")


def naive(values: np.ndarray, costs: np.ndarray, budget: float) -> Allocation:
    """Each customer's best arm; customers by that value, highest first, while the budget lasts."""
    started = time.perf_counter()
    best = values.argmax(axis=1)
    rows = np.arange(len(values))
    gain, spend = values[rows, best], costs[rows, best]
    order = np.argsort(-gain, kind="stable")
    order = order[gain[order] > 0]
    taken = order[np.cumsum(spend[order]) <= budget]
    arms = np.full(len(values), NONE)
    arms[taken] = best[taken]
    value, cost = _totals(arms, values, costs)
    return Allocation(arms, value, cost, None, time.perf_counter() - started, "naive")


def hull_increments(values: np.ndarray, costs: np.ndarray) -> Any:
    """Each customer's steps along the upper convex hull of (cost, value) from (0, 0), all arms reachable.

    Returns arrays (customer, arm, extra cost, extra value, slope, rank): rank 0 is a customer's first step.
    """
    n, m = values.shape
    rows = np.arange(n)
    at_cost, at_value = np.zeros(n), np.zeros(n)
    active = np.ones(n, dtype=bool)
    customers, arms, extra_costs, extra_values, slopes, ranks = [], [], [], [], [], []
    for rank in range(m):
        extra_cost = costs - at_cost[:, None]
        gain = values - at_value[:, None]
        slope = np.where(extra_cost > 0, gain / np.where(extra_cost > 0, extra_cost, 1), -np.inf)
        arm = slope.argmax(axis=1)
        step = slope[rows, arm]
        active &= np.isfinite(step)
        if not active.any():
            break
        picked = np.flatnonzero(active)
        customers.append(picked)
        arms.append(arm[picked])
        extra_costs.append(extra_cost[picked, arm[picked]])
        extra_values.append(values[picked, arm[picked]] - at_value[picked])
        slopes.append(step[picked])
        ranks.append(np.full(len(picked), rank))
        at_cost[picked], at_value[picked] = costs[picked, arm[picked]], values[picked, arm[picked]]
    return tuple(np.concatenate(part) for part in (customers, arms, extra_costs, extra_values, slopes, ranks))


def greedy(values: np.ndarray, costs: np.ndarray, budget: float, min_spend: float | None = None) -> Allocation:
    """Multiple-choice knapsack: hull steps by value per unit cost, while the budget lasts; LP bound too.

    Steps with no gain are only taken to reach `min_spend`.
    """
    started = time.perf_counter()
    customer, arm, extra_cost, extra_value, slope, rank = hull_increments(values, costs)
    order = np.argsort(-slope, kind="stable")
    customer, arm, extra_cost, extra_value, slope, rank = (
        a[order] for a in (customer, arm, extra_cost, extra_value, slope, rank))
    useful = (slope > 0) | (min_spend is not None)
    spent = np.cumsum(np.where(useful, extra_cost, 0.0))
    fits = (spent <= budget) & useful
    if min_spend is not None:  # past the positive steps, take losing ones only until the minimum is reached
        positive_spend = extra_cost[(slope > 0) & fits].sum()
        fits &= (slope > 0) | (spent - extra_cost < max(min_spend, positive_spend))
    cut = int(np.argmin(fits)) if not fits.all() else len(fits)  # the first step that does not fit
    taken = np.zeros(len(slope), dtype=bool)
    taken[:cut] = True
    bound = float(extra_value[:cut].sum())
    if cut < len(slope) and slope[cut] > 0:  # the LP takes a fraction of the first step that does not fit
        bound += (budget - float(extra_cost[:cut].sum())) * slope[cut]
    _fill(taken, customer, extra_cost, slope, rank, budget - float(extra_cost[:cut].sum()), cut)
    arms = np.full(len(values), NONE)
    steps = np.flatnonzero(taken)
    arms[customer[steps]] = arm[steps]  # steps are in slope order; a customer's later step sets the final arm
    if min_spend is not None and _totals(arms, values, costs)[1] < min_spend - 1e-9:
        raise WorkbenchError(f"minimum spend {min_spend:g} could not be reached within the budget {budget:g}")
    value, cost = _totals(arms, values, costs)
    return Allocation(arms, value, cost, bound if min_spend is None else None, time.perf_counter() - started,
                      "greedy")


def _fill(taken: np.ndarray, customer: np.ndarray, extra_cost: np.ndarray, slope: np.ndarray, rank: np.ndarray,
          left: float, cut: int) -> None:
    """Spend what is left on later gaining steps that fit, each the next step of its customer's hull."""
    steps_taken = np.bincount(customer[taken], minlength=customer.max() + 1 if len(customer) else 0)
    candidates = cut + np.flatnonzero((slope[cut:] > 0) & (extra_cost[cut:] <= left))
    cheapest = extra_cost[candidates].min(initial=np.inf)
    for step in candidates:
        if left < cheapest:
            break
        who = customer[step]
        if extra_cost[step] <= left and rank[step] == steps_taken[who]:
            taken[step] = True
            left -= extra_cost[step]
            steps_taken[who] += 1


def exact(values: np.ndarray, costs: np.ndarray, budget: float, min_spend: float | None = None,
          capacity: np.ndarray | None = None, seconds: float = 120.0) -> Allocation:
    """The integer program, solved by SCIP through OR-Tools' model builder; sums built from arrays, not terms."""
    import pandas as pd
    from ortools.linear_solver.python import model_builder as mb

    started = time.perf_counter()
    n, m = values.shape
    keep = values > 0 if min_spend is None else np.ones_like(values, dtype=bool)  # a losing arm is never chosen
    rows, arms = np.nonzero(keep)
    model = mb.Model()
    chosen = model.new_bool_var_series("x", pd.Index(np.arange(len(rows)))).to_list()
    starts = np.searchsorted(rows, np.arange(n + 1))
    for customer in np.flatnonzero(np.diff(starts) > 1):
        model.add(mb.LinearExpr.sum(chosen[starts[customer]:starts[customer + 1]]) <= 1)
    spend = mb.LinearExpr.weighted_sum(chosen, costs[rows, arms].tolist())
    model.add(spend <= budget)
    if min_spend is not None:
        model.add(spend >= min_spend)
    if capacity is not None:
        for arm in range(m):
            model.add(mb.LinearExpr.sum([chosen[j] for j in np.flatnonzero(arms == arm)]) <= int(capacity[arm]))
    model.maximize(mb.LinearExpr.weighted_sum(chosen, values[rows, arms].tolist()))
    solver = mb.Solver("scip")
    solver.set_time_limit_in_seconds(seconds)
    status = solver.solve(model)
    if status not in (mb.SolveStatus.OPTIMAL, mb.SolveStatus.FEASIBLE):
        raise WorkbenchError("no allocation satisfies the constraints (minimum spend, capacities, budget); relax them")
    picked = np.array([solver.value(var) for var in chosen]) > 0.5
    allocation = np.full(n, NONE)
    allocation[rows[picked]] = arms[picked]
    value, cost = _totals(allocation, values, costs)
    return Allocation(allocation, value, cost, float(solver.best_objective_bound), time.perf_counter() - started,
                      "scip")
