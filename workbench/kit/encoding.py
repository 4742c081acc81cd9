"""A one-hot encoder fitted once and applied unchanged to every later dataset, with a drift report.

Shared by every plugin that needs categorical features; needs scikit-learn. A scikit-learn transformer that
passes scikit-learn's own estimator checks: polars or pandas frames keep their column names and types (only
text, categorical and boolean columns are encoded by default, the rest pass through) and give a polars frame
(or pandas, `set_output`); a NumPy array is validated as scikit-learn does (2-D, finite but for NaN, no sparse
input), every column of it is encoded, and the output is a float64 array.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from workbench.errors import Invalid

FORMAT_VERSION = 1
MISSING_NAME = "nan"
INFREQUENT_NAME = "infrequent"
DRIFT_SCHEMA = {"column": pl.String, "level": pl.String, "status": pl.String, "count": pl.Int64,
                "share": pl.Float64}


@dataclass
class EncodedColumn:
    """The fitted state of one input column: plain data, saved as JSON."""

    name: str
    levels: list[str]
    infrequent: list[str] = field(default_factory=list)
    has_infrequent_column: bool = False
    has_missing_column: bool = False
    drop_first: bool = False  # the first level is the reference: rows of it get all zeros

    @property
    def dropped(self) -> int:
        """1 when the first level has no indicator of its own."""
        return int(self.drop_first and bool(self.levels))

    def indicators(self, separator: str) -> list[tuple[str, str]]:
        """(level, output column) per indicator in output order: the levels, then `nan`, then `infrequent`."""
        labels = (self.levels[self.dropped:] + [MISSING_NAME] * self.has_missing_column
                  + [INFREQUENT_NAME] * self.has_infrequent_column)
        return [(label, f"{self.name}{separator}{label}") for label in labels]

    def output_names(self, separator: str) -> list[str]:
        return [name for _, name in self.indicators(separator)]

    @property
    def infrequent_code(self) -> int:
        """Index of the infrequent indicator among this column's outputs."""
        return len(self.levels) - self.dropped + int(self.has_missing_column)


def clean_names(names: list[str]) -> list[str]:
    """Names any library accepts: letters, digits and `_` only, not starting with a digit, unique (`_2`, `_3`...)."""
    cleaned, taken = [], set()
    for name in names:
        base = re.sub(r"_+", "_", re.sub(r"[^0-9A-Za-z_]", "_", name)).strip("_") or "column"
        base = f"c_{base}" if base[0].isdigit() else base
        candidate, suffix = base, 2
        while candidate in taken:
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(candidate)
        cleaned.append(candidate)
    return cleaned


class InvalidInput(Invalid, ValueError):
    """Data the encoder cannot use: a `ValueError` for scikit-learn, a one-line error for the workbench."""


def _is_frame(X: Any) -> bool:
    return isinstance(X, pl.DataFrame) or type(X).__module__.startswith("pandas")


def _array_frame(array: np.ndarray) -> pl.DataFrame:
    """A validated 2-D array as a frame of columns x0, x1, ...; object columns as text (None stays missing)."""
    columns = []
    for index in range(array.shape[1]):
        values = array[:, index]
        if values.dtype == object:
            columns.append(pl.Series(f"x{index}", [None if value is None else str(value) for value in values],
                                     dtype=pl.String))
        else:
            columns.append(pl.Series(f"x{index}", values))
    return pl.DataFrame(columns)


def _level_counts(values: pl.Series) -> pl.DataFrame:
    """Columns `level` and `count`, most frequent first, ties by level."""
    counts = values.rename("level").value_counts(name="count")
    return counts.sort(["count", "level"], descending=[True, False])


def _is_categorical(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum)


class RobustOneHotEncoder(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):  # type: ignore[call-arg]
    """One-hot encode categorical columns; unseen levels never change the output columns.

    Parameters follow scikit-learn's `OneHotEncoder` where they overlap. Output is a polars DataFrame
    of UInt8 indicators (numeric columns pass through in place), or a SciPy CSR matrix with
    `sparse_output=True`; `set_output(transform="pandas")` gives pandas.
    """

    def __init__(
        self,
        columns: list[str] | None = None,
        handle_unknown: Literal["ignore", "infrequent"] = "ignore",
        min_frequency: int | float | None = None,
        max_categories: int | None = None,
        missing: Literal["level", "zeros"] = "level",
        sparse_output: bool = False,
        max_levels: int = 100_000,
        separator: str = "_",
        drop_first: bool = False,
        clean_names: bool = False,
    ) -> None:
        self.columns = columns
        self.handle_unknown = handle_unknown
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.missing = missing
        self.sparse_output = sparse_output
        self.max_levels = max_levels
        self.separator = separator
        self.drop_first = drop_first
        self.clean_names = clean_names

    def __sklearn_tags__(self) -> Any:
        """NaN is a value like any other (a missing level); the output is float64 for arrays, integers for frames."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags

    def _frame(self, X: Any, fitting: bool) -> pl.DataFrame:
        """The input as a polars frame: frames as they are, arrays validated as scikit-learn validates them."""
        if _is_frame(X):
            frame = X if isinstance(X, pl.DataFrame) else pl.from_pandas(X)
            if frame.height == 0:
                raise InvalidInput("cannot encode an empty frame; pass data with at least one row")
            return frame
        from sklearn.utils.validation import validate_data

        array = validate_data(self, X, reset=fitting, dtype=None, ensure_all_finite="allow-nan")
        if array.dtype.kind == "c":
            raise InvalidInput("complex data is not supported; pass real numbers or text")
        return _array_frame(array)

    # -- fitting --------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> RobustOneHotEncoder:
        frame = self._frame(X, fitting=True)
        if self.columns is not None:
            missing = [name for name in self.columns if name not in frame.columns]
            if missing:
                raise InvalidInput(f"column {missing[0]!r} to encode is not in the data; "
                                   f"columns are: {', '.join(frame.columns)}")
            targets = list(self.columns)
        elif not _is_frame(X):
            targets = list(frame.columns)  # an array has no types to tell categories by: every column is one
        else:
            targets = [name for name, dtype in frame.schema.items() if _is_categorical(dtype)]
        if not targets:
            raise InvalidInput(
                "no categorical column found (string, categorical or boolean); "
                "name the columns to encode with columns=[...]"
            )
        self.feature_names_in_ = np.array(frame.columns, dtype=object)
        self.n_features_in_ = frame.width
        # One group-by per column, run together: polars spreads them over the cores.
        counts = pl.collect_all([
            frame.lazy().group_by(pl.col(name).cast(pl.String).alias("level")).len(name="count") for name in targets
        ])
        self.encoded_ = [self._fit_column(name, table, frame.height)
                         for name, table in zip(targets, counts, strict=True)]
        return self

    def fit_lazy(self, frame: pl.LazyFrame) -> RobustOneHotEncoder:
        """The same fit over data larger than memory: the levels of each column counted by polars' streaming
        engine, one pass per column, never holding more than the counts."""
        schema = frame.collect_schema()
        targets = list(self.columns) if self.columns is not None else [
            name for name, dtype in schema.items() if _is_categorical(dtype)]
        missing = [name for name in targets if name not in schema]
        if missing:
            raise InvalidInput(f"column {missing[0]!r} to encode is not in the data; columns are: {', '.join(schema)}")
        if not targets:
            raise InvalidInput("no categorical column found (string, categorical or boolean); "
                               "name the columns to encode with columns=[...]")
        rows = int(frame.select(pl.len()).collect(engine="streaming").item())
        if rows == 0:
            raise InvalidInput("cannot encode an empty frame; pass data with at least one row")
        self.feature_names_in_ = np.array(list(schema), dtype=object)
        self.n_features_in_ = len(schema)
        self.encoded_ = [self._fit_column(name, frame.group_by(pl.col(name).cast(pl.String).alias("level"))
                                          .len(name="count").collect(engine="streaming"), rows)
                         for name in targets]
        return self

    def _fit_column(self, name: str, counts: pl.DataFrame, rows: int) -> EncodedColumn:
        nulls = counts.filter(pl.col("level").is_null())["count"].sum()
        counts = counts.drop_nulls("level").sort(["count", "level"], descending=[True, False])
        if counts.height > self.max_levels and self.max_categories is None:
            raise InvalidInput(
                f"column {name!r} has {counts.height:,} distinct levels (limit {self.max_levels:,}); "
                "set max_categories (e.g. 50) to keep the most frequent and group the rest, or drop the column"
            )
        frequent = counts
        if self.min_frequency is not None:
            threshold = self.min_frequency
            if isinstance(threshold, float) and threshold < 1:
                threshold = threshold * rows
            frequent = frequent.filter(pl.col("count") >= threshold)
        if self.max_categories is not None and frequent.height > self.max_categories:
            frequent = frequent.head(max(self.max_categories - 1, 1))
        kept = set(frequent["level"].to_list())
        infrequent = sorted(level for level in counts["level"].to_list() if level not in kept)
        return EncodedColumn(
            name=name,
            levels=sorted(kept),
            infrequent=infrequent,
            has_infrequent_column=bool(infrequent) or self.handle_unknown == "infrequent",
            has_missing_column=self.missing == "level" and nulls > 0,
            drop_first=self.drop_first,
        )

    # -- the output -----------------------------------------------------------------------------

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output column names: each encoded column's indicators in place, other columns as they are."""
        return np.array(list(self.output_name_map().values()), dtype=object)

    def output_name_map(self) -> dict[str, str]:
        """Each output's raw name (`column` + separator + level, or a passthrough column) to the name it gets."""
        check_is_fitted(self, "encoded_")
        encoded = {column.name: column for column in self.encoded_}
        raw: list[str] = []
        for name in self.feature_names_in_:
            raw.extend(encoded[name].output_names(self.separator) if name in encoded else [name])
        return dict(zip(raw, clean_names(raw) if self.clean_names else raw, strict=True))

    def output_levels(self) -> list[dict[str, str | None]]:
        """Output column, input column and level for every output: the way back from a (clean) name."""
        names = self.output_name_map()
        encoded = {column.name: column for column in self.encoded_}
        rows: list[dict[str, str | None]] = []
        for name in self.feature_names_in_:
            if name not in encoded:
                rows.append({"output_column": names[name], "column": name, "level": None})
                continue
            rows.extend({"output_column": names[raw], "column": name, "level": level}
                        for level, raw in encoded[name].indicators(self.separator))
        return rows

    def set_output(self, *, transform: Literal["default", "pandas", "polars"] | None = None) -> RobustOneHotEncoder:
        """`polars` (the default) or `pandas` for dense output."""
        if transform is not None:
            self._output = transform
        return self

    def transform(self, X: Any) -> Any:
        output, _ = self.transform_with_drift(X)
        return output

    def transform_with_drift(self, X: Any) -> tuple[Any, pl.DataFrame]:
        """The encoded data and a drift table (unseen levels met, training levels now absent)."""
        check_is_fitted(self, "encoded_")
        frame = self._frame(X, fitting=False)
        absent = [name for name in self.feature_names_in_ if name not in frame.columns]
        if absent:
            role = "categorical" if absent[0] in {c.name for c in self.encoded_} else "passthrough"
            raise InvalidInput(f"{role} column {absent[0]!r} was present at fit time but is missing from the data; "
                               "pass data with the training columns")
        codes, drifts = {}, []
        for column in self.encoded_:
            codes[column.name], drift = self._codes_and_drift(frame, column)
            drifts.append(drift)
        drift = pl.concat(drifts, how="vertical")
        if self.sparse_output:
            return self._sparse(frame, codes), drift
        dense = self._dense(frame, codes)
        if not _is_frame(X):
            return dense.to_numpy().astype(np.float64), drift
        return dense.to_pandas() if getattr(self, "_output", "polars") == "pandas" else dense, drift

    def _codes_and_drift(self, frame: pl.DataFrame, column: EncodedColumn) -> tuple[np.ndarray, pl.DataFrame]:
        """Per row, the index of the output column set to 1 (the column count where none is)."""
        values = frame.get_column(column.name).cast(pl.String)
        keys = column.levels + column.infrequent
        unknown = len(keys)  # enum code given to unseen levels and missing values
        if keys:
            physical = values.cast(pl.Enum(keys), strict=False).to_physical().fill_null(unknown).to_numpy()
        else:
            physical = np.full(frame.height, unknown, dtype=np.uint8)
        is_null = values.is_null().to_numpy()
        outputs = len(column.output_names(self.separator))
        nothing = outputs  # matches no output column
        infrequent_target = column.infrequent_code if column.has_infrequent_column else nothing
        lookup = np.arange(len(keys) + 1, dtype=np.int64)
        lookup[:len(column.levels)] -= column.dropped
        if column.dropped:
            lookup[0] = nothing  # the reference level: all zeros
        lookup[len(column.levels):len(keys)] = infrequent_target
        lookup[unknown] = infrequent_target if self.handle_unknown == "infrequent" else nothing
        dtype = np.uint8 if outputs < 255 else np.uint16 if outputs < 65_535 else np.uint32
        codes = lookup.astype(dtype)[physical]
        missing_target = len(column.levels) - column.dropped if column.has_missing_column else nothing
        if self.missing == "zeros" or column.has_missing_column:
            codes[is_null] = missing_target
            unseen_rows = (physical == unknown) & ~is_null
        else:
            unseen_rows = physical == unknown
        counts = np.bincount(physical, minlength=unknown + 1)
        return codes, self._drift(column, values.filter(pl.Series(unseen_rows)), counts[:unknown], frame.height)

    def _drift(self, column: EncodedColumn, unseen: pl.Series, key_counts: np.ndarray, rows: int) -> pl.DataFrame:
        unseen_counts = _level_counts(unseen.fill_null("null")).iter_rows()
        records = [{"column": column.name, "level": level, "status": "unseen", "count": count,
                    "share": count / max(rows, 1)} for level, count in unseen_counts]
        keys = column.levels + column.infrequent
        absent = sorted(keys[index] for index in np.flatnonzero(key_counts == 0))
        records += [{"column": column.name, "level": level, "status": "absent", "count": 0, "share": 0.0}
                    for level in absent]
        return pl.DataFrame(records, schema=DRIFT_SCHEMA)

    def _dense(self, frame: pl.DataFrame, codes: dict[str, np.ndarray]) -> Any:
        """Indicators written straight into one column-major buffer that polars wraps without copying."""
        encoded = {column.name: column for column in self.encoded_}
        names = self.output_name_map()
        total = sum(len(column.output_names(self.separator)) for column in self.encoded_)
        buffer = np.zeros((total, frame.height), dtype=np.uint8)
        series, row = [], 0
        for name in self.feature_names_in_:
            if name not in encoded:
                series.append(frame.get_column(name).alias(names[name]))
                continue
            for index, column_name in enumerate(encoded[name].output_names(self.separator)):
                np.equal(codes[name], index, out=buffer[row].view(np.bool_))
                series.append(pl.Series(names[column_name], buffer[row]))
                row += 1
        return pl.DataFrame(series)

    def _sparse(self, frame: pl.DataFrame, codes: dict[str, np.ndarray]) -> Any:
        """CSR built from one (rows x input columns) matrix of output indices; -1 marks no entry."""
        from scipy import sparse

        encoded = {column.name: column for column in self.encoded_}
        rows, width = frame.height, len(self.feature_names_in_)
        index_matrix = np.empty((rows, width), dtype=np.int32)
        value_matrix = None if len(encoded) == width else np.ones((rows, width), dtype=np.float64)
        offset = 0
        for position, name in enumerate(self.feature_names_in_):
            if name not in encoded:
                assert value_matrix is not None  # made whenever a column passes through
                index_matrix[:, position] = offset
                value_matrix[:, position] = frame.get_column(name).cast(pl.Float64).to_numpy()
                offset += 1
                continue
            code, outputs = codes.pop(name), len(encoded[name].output_names(self.separator))
            index_matrix[:, position] = code
            index_matrix[:, position] += offset
            index_matrix[code >= outputs, position] = -1
            offset += outputs
        present = index_matrix >= 0
        index_type = np.int32 if present.size < 2**31 else np.int64
        if present.all():
            indices = index_matrix.ravel()
            row_starts = np.arange(0, rows * width + 1, width, dtype=index_type)
        else:
            row_starts = np.zeros(rows + 1, dtype=index_type)
            np.cumsum(present.sum(axis=1, dtype=np.uint16), dtype=index_type, out=row_starts[1:])
            indices = index_matrix[present]
        del index_matrix
        data: np.ndarray
        if value_matrix is None:
            data = np.ones(indices.size, dtype=np.uint8)
        else:
            data = value_matrix.ravel() if present.all() else value_matrix[present]
        return sparse.csr_matrix((data, indices, row_starts), shape=(rows, offset), copy=False)

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to transform, as JSON-ready data (no pickle)."""
        check_is_fitted(self, "encoded_")
        return {"format_version": FORMAT_VERSION, "params": self.get_params(),
                "input_columns": self.feature_names_in_.tolist(),
                "encoded": [asdict(column) for column in self.encoded_], "outputs": self.output_levels()}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> RobustOneHotEncoder:
        if state.get("format_version") != FORMAT_VERSION:
            raise InvalidInput(f"encoder format {state.get('format_version')} is not {FORMAT_VERSION}; refit it")
        encoder = cls(**state["params"])
        encoder.feature_names_in_ = np.array(state["input_columns"], dtype=object)
        encoder.n_features_in_ = len(state["input_columns"])
        encoder.encoded_ = [EncodedColumn(**column) for column in state["encoded"]]
        return encoder
