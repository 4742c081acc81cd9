"""Artifact formats that cannot run code when loaded: skops with an allow-list, and arrays as safetensors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import UnsafeArtifact

if TYPE_CHECKING:
    import numpy as np

# Types skops does not trust by default that any model holds; a task names the rest (`Task.trusted_types`).
TRUSTED_TYPES = frozenset({"collections.OrderedDict", "numpy.dtype"})


def save_skops(model: Any, path: Path) -> None:
    """A fitted scikit-learn-style model as a skops file (no pickle)."""
    import skops.io

    skops.io.dump(model, path)


def load_skops(path: Path, trusted: frozenset[str] = frozenset()) -> Any:
    """Load a skops file, refusing any type skops does not trust that is neither in `trusted` (the task's
    `trusted_types`) nor a plain container (never a plain unpickle)."""
    import skops.io

    found = set(skops.io.get_untrusted_types(file=path))
    unexpected = sorted(found - TRUSTED_TYPES - trusted)
    if unexpected:
        raise UnsafeArtifact(f"{path.name} holds types this workbench does not trust ({', '.join(unexpected)}); "
                             "refit the model")
    return skops.io.load(path, trusted=sorted(found))


def save_arrays(arrays: dict[str, np.ndarray], path: Path, metadata: dict[str, str] | None = None) -> None:
    """Named NumPy arrays as one safetensors file (plain numbers, no code)."""
    import numpy as np
    from safetensors.numpy import save_file

    save_file({name: np.ascontiguousarray(array) for name, array in arrays.items()}, str(path), metadata=metadata)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The named arrays of a safetensors file."""
    from safetensors.numpy import load_file

    return load_file(str(path))
