"""What scoring needs from a fitted EconML estimator, kept as plain arrays and evaluated here (no pickle).

- LinearDML: the final stage's coefficients and their covariance, theta(x) = b . [1, x], normal intervals.
- CausalForestDML: every tree's splits and each node's local alpha and jacobian, and the forest's subforest
  slices; point estimates and bootstrap-of-little-bags variances computed the way EconML's GRF computes them.

`tests/test_uplift.py` checks both against EconML's own `effect` and `effect_interval`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.sdk import load_arrays, save_arrays

ARRAYS_FILE = "effects.safetensors"
INDEX_FILE = "effects.json"
CHUNK_ROWS = 20_000


@dataclass
class LinearEffect:
    """theta(x) = params . [1, x], with the covariance of `params`."""

    params: np.ndarray
    covariance: np.ndarray

    def estimate(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Point estimates and their variances."""
        design = np.hstack([np.ones((len(X), 1)), X])
        return design @ self.params, np.einsum("ij,jk,ik->i", design, self.covariance, design)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"params": self.params, "covariance": self.covariance}


@dataclass
class ForestEffect:
    """A generalized random forest for theta(x): trees concatenated, `roots[t]` the first node of tree t."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    alpha: np.ndarray  # node x outputs: the local E[A | leaf]
    jac: np.ndarray  # node x outputs^2: the local E[J | leaf]
    roots: np.ndarray
    slices: np.ndarray  # subforest x trees per subforest
    outputs: int

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in ("left", "right", "feature", "threshold", "alpha", "jac",
                                                       "roots", "slices")}

    def _leaves(self, X: np.ndarray, tree: int) -> np.ndarray:
        node = np.full(len(X), self.roots[tree], dtype=np.int64)
        rows = np.arange(len(X))
        while True:
            inner = self.left[node] >= 0
            if not inner.any():
                return node
            at = node[inner]
            go_left = X[rows[inner], self.feature[at]] <= self.threshold[at]
            node[inner] = np.where(go_left, self.left[at], self.right[at])

    def estimate(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Point estimates of the treatment's parameter and their variances, in chunks of rows."""
        parts = [self._estimate(X[start:start + CHUNK_ROWS]) for start in range(0, len(X), CHUNK_ROWS)]
        return np.concatenate([p for p, _ in parts]), np.concatenate([v for _, v in parts])

    def _estimate(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scipy.special import erfc

        k, n = self.outputs, len(X)
        leaves = [self._leaves(X, tree) for tree in range(len(self.roots))]
        alpha = sum(self.alpha[leaf] for leaf in leaves) / len(leaves)
        jac = (sum(self.jac[leaf] for leaf in leaves) / len(leaves)).reshape(n, k, k)
        inverse = np.linalg.pinv(jac)
        theta = np.einsum("ijk,ik->ij", inverse, alpha)
        bags, bag_vars = [], []
        for members in self.slices:
            moments = [self.alpha[leaves[t]] - np.einsum("ijk,ik->ij", self.jac[leaves[t]].reshape(n, k, k), theta)
                       for t in members]
            bags.append(sum(moments) / len(moments))
            bag_vars.append(sum(np.einsum("ij,ik->ijk", m, m) for m in moments) / len(moments))
        bag = np.stack(bags)  # subforest x n x k
        moment = bag.mean(axis=0)
        between = np.einsum("sij,sik->ijk", bag, bag) / len(bags)
        spread = between - np.einsum("ij,ik->ijk", moment, moment)
        projector = np.zeros(k)
        projector[0] = 1.0  # the treatment's coefficient, not the forest's intercept

        def projected(covariance_of_moment: np.ndarray) -> np.ndarray:
            covariance = np.einsum("ijk,ikl,iml->ijm", inverse, covariance_of_moment, inverse)
            return covariance @ projector @ projector

        variance = projected(spread)
        correction = projected((np.mean(bag_vars, axis=0) - between) / (len(self.slices[0]) - 1))
        naive = variance - correction
        scale = np.maximum(variance, correction) * np.sqrt(2.0 / len(bags))
        z = naive / np.clip(scale, 1e-10, np.inf)
        density = np.exp(-(z ** 2) / 2) / np.sqrt(2.0 * np.pi)
        corrected = naive + scale * density / (0.5 * erfc(-z / np.sqrt(2.0)))
        return theta @ projector, corrected


EffectModel = LinearEffect | ForestEffect


def export(estimator: Any) -> EffectModel:
    """The arrays scoring needs from a fitted LinearDML or CausalForestDML (binary treatment, one outcome)."""
    from econml.dml import CausalForestDML

    if not isinstance(estimator, CausalForestDML):
        final = estimator.model_final_
        params = np.asarray(final._param, dtype=np.float64).ravel()
        # a 0/1 outcome gives the covariance a leading axis of one: (1, p, p)
        return LinearEffect(params, np.asarray(final._param_var, dtype=np.float64).reshape(params.size, params.size))
    forest = estimator.model_final_.estimators_[0]
    trees = [tree.tree_ for tree in forest.estimators_]
    sizes = np.array([tree.node_count for tree in trees])
    roots = np.concatenate([[0], np.cumsum(sizes)[:-1]])

    def joined(name: str, offset: bool = False) -> np.ndarray:
        parts = []
        for tree, root in zip(trees, roots, strict=True):
            values = np.asarray(getattr(tree, name))
            if offset:
                values = np.where(values >= 0, values + root, -1)
            parts.append(values)
        return np.concatenate(parts)

    return ForestEffect(joined("children_left", True).astype(np.int64), joined("children_right", True).astype(np.int64),
                        joined("feature").astype(np.int64), joined("threshold").astype(np.float64),
                        joined("precond").astype(np.float64), joined("jac").astype(np.float64),
                        roots.astype(np.int64), np.array([np.asarray(s) for s in forest.slices_], dtype=np.int64),
                        int(forest.n_outputs_))


def effect_and_interval(model: EffectModel, X: np.ndarray, alpha: float = 0.1) -> tuple[np.ndarray, ...]:
    """CATE per row with the (1 - alpha) normal interval."""
    from scipy.stats import norm

    point, variance = model.estimate(np.asarray(X, dtype=np.float64))
    half = norm.ppf(1 - alpha / 2) * np.sqrt(np.maximum(variance, 0))
    return point, point - half, point + half


def save(models: dict[str, EffectModel], folder: Path) -> None:
    """One safetensors file of every arm's arrays and a JSON index of what they are."""
    arrays, index = {}, {}
    for arm_index, (arm, model) in enumerate(models.items()):
        kind = "linear" if isinstance(model, LinearEffect) else "forest"
        index[arm] = {"kind": kind, "key": f"arm{arm_index}",
                      **({"outputs": model.outputs} if isinstance(model, ForestEffect) else {})}
        arrays.update({f"arm{arm_index}.{name}": value for name, value in model.arrays().items()})
    save_arrays(arrays, folder / ARRAYS_FILE)
    (folder / INDEX_FILE).write_text(json.dumps(index, indent=1))


def load(folder: Path) -> dict[str, EffectModel]:
    """The models `save` wrote, by arm."""
    index = json.loads((folder / INDEX_FILE).read_text())
    arrays = load_arrays(folder / ARRAYS_FILE)
    models: dict[str, EffectModel] = {}
    for arm, entry in index.items():
        own = {name.split(".", 1)[1]: value for name, value in arrays.items() if name.startswith(entry["key"] + ".")}
        models[arm] = (LinearEffect(**own) if entry["kind"] == "linear"
                       else ForestEffect(**own, outputs=entry["outputs"]))
    return models
