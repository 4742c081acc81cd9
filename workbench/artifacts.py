"""Saving fitted scikit-learn-style models as skops files, and loading only the types we expect."""

from __future__ import annotations

from pathlib import Path

from workbench.errors import WorkbenchError

# Types skops does not trust by default but that our models are made of.
TRUSTED_TYPES = frozenset({
    "collections.OrderedDict",
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
})


def save_model(model, path: Path) -> None:
    import skops.io

    skops.io.dump(model, path)


def load_model(path: Path, extra_trusted: frozenset[str] = frozenset()):
    """Load a skops file, refusing any type outside the allow-list (never a plain unpickle)."""
    import skops.io

    found = set(skops.io.get_untrusted_types(file=path))
    unexpected = sorted(found - TRUSTED_TYPES - extra_trusted)
    if unexpected:
        raise WorkbenchError(f"{path.name} holds types this workbench does not trust ({', '.join(unexpected)}); "
                             "refit the model")
    return skops.io.load(path, trusted=sorted(found))
