"""Arrow columns from numpy values: dates, money and numbered ids."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def dates(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int64).astype("datetime64[D]"))


def timestamps(seconds: np.ndarray) -> pa.Array:
    array = pa.array(np.asarray(seconds, dtype=np.int64).astype("datetime64[s]"))
    return array.cast(pa.timestamp("us"))


def money(cents: np.ndarray) -> pa.Array:
    """Exact DECIMAL(18,2) from integer cents (decimal128 is the little-endian 128-bit value)."""
    low = np.ascontiguousarray(cents, dtype=np.int64)
    high = np.where(low < 0, -1, 0).astype(np.int64)
    buffer = np.column_stack([low, high]).ravel()
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(low), [None, pa.py_buffer(buffer)])


def numbered(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Text ids like SO2024000017: prefix + zero-padded number."""
    digits = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def document_ids(prefix: str, year: np.ndarray, number: np.ndarray, width: int) -> pa.Array:
    """Ids numbered per year, like SO2024000017: prefix, year, zero-padded number."""
    digits = pc.utf8_lpad(pa.array(number, pa.int64()).cast(pa.string()), width, "0")
    years = pa.array(year, pa.int64()).cast(pa.string())
    return pc.binary_join_element_wise(prefix, years, digits, "")


def id_width(numbers: np.ndarray, minimum: int) -> int:
    return max(minimum, len(str(int(numbers.max())))) if len(numbers) else minimum


def round_cents(values: np.ndarray) -> np.ndarray:
    return np.rint(values).astype(np.int64)
