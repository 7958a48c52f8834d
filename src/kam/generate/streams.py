"""Random streams: one per part of the model."""

from __future__ import annotations

import numpy as np

STREAMS = {
    "customers": 1,
    "products": 2,
    "orders": 3,
    "invoices": 4,
    "payments": 5,
    "crm": 6,
    "activities": 7,
    "messy": 8,
}


def random_stream(seed: int, stream: str, block: int = 0) -> np.random.Generator:
    """An independent random stream per part of the model, so parts do not shift each other,
    and per block of customers for the parts simulated a block at a time.

    Block 0 draws from the part's own stream: a run of one block writes the same data as
    before there were blocks.
    """
    return np.random.default_rng([seed, STREAMS[stream], *([block] if block else [])])
