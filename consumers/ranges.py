"""The integer bounds of ``schemas.bounds`` as a condition on a fast-path stage table: a batch
holding a number its column cannot hold takes the slow path, which dead-letters exactly it."""

from __future__ import annotations

from schemas.bounds import COLUMN_TYPES, INTEGER_RANGES


def out_of_range_sql(subject: str, stage_columns: dict[str, str]) -> str:
    """True for a staged row with an integer out of its column's range (NULL is in range)."""
    conditions = []
    for path, column in COLUMN_TYPES[subject].items():
        low, high = INTEGER_RANGES[column]
        head, _, rest = path.partition(".")
        if not rest:
            conditions.append(f"ifNull(NOT ({head} BETWEEN {low} AND {high}), 0)")
        elif stage_columns[head].startswith("Array("):
            inner = f"tupleElement(x, '{rest}')"
            conditions.append(f"arrayExists(x -> ifNull(NOT ({inner} BETWEEN {low} AND {high}), 0), {head})")
        else:
            inner = f"tupleElement({head}, '{rest}')"
            conditions.append(f"ifNull(NOT ({inner} BETWEEN {low} AND {high}), 0)")
    return "(" + " OR ".join(conditions) + ")"
