"""Column kinds: which columns of the data a column parameter accepts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.errors import Invalid

if TYPE_CHECKING:
    import polars as pl

KIND_WORDS = {"numeric": "a numeric column", "text": "a text column", "date": "a date, year or YYYYMM column",
              "categorical": "a categorical column (text, categories or booleans)"}
KINDS = frozenset(KIND_WORDS)


def kind_matches(dtype: pl.DataType, kind: str | None) -> bool:
    """Whether a column of `dtype` can play a parameter of `kind` (None accepts anything)."""
    import polars as pl

    if kind == "numeric":
        return dtype.is_numeric() and dtype != pl.Boolean
    if kind == "text":
        return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
    if kind == "date":
        return dtype.is_temporal() or dtype.is_integer() or dtype == pl.String
    if kind == "categorical":
        return dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum)
    return True


def columns_of_kind(data: pl.DataFrame, kind: str | None) -> list[str]:
    """The columns a parameter of `kind` accepts, in the data's order."""
    return [name for name, dtype in data.schema.items() if kind_matches(dtype, kind)]


def check_kind(data: pl.DataFrame, name: str, kind: str | None, param: str,
               taken: frozenset[str] = frozenset()) -> None:
    """Refuse a column of the wrong type for its parameter, naming the columns that would do (other than `taken`)."""
    if kind_matches(data.schema[name], kind):
        return
    fitting = [column for column in columns_of_kind(data, kind) if column not in taken]
    wanted = KIND_WORDS.get(kind or "", kind or "any column")
    raise Invalid(f"column {name!r} (parameter {param}) is {data.schema[name]}, not {wanted}; "
                  f"columns that fit: {', '.join(fitting) or 'none'}")
