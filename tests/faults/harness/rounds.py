"""How many faults a test injects, and the seeded randomness that picks their moments.

`PORCH_FAULT_ROUNDS` scales every fault test: small by default so the default run stays quick,
`PORCH_FAULT_ROUNDS=25` (or more) for the full run of docs/RELIABILITY.md. `PORCH_FAULT_SEED`
replays a run's random moments; every fault test prints the seed it used.
"""

from __future__ import annotations

import os
import random
import secrets

DEFAULT_ROUNDS = 5


def fault_rounds() -> int:
    """The number of faults of each kind a test injects (at least 1)."""
    return max(1, int(os.environ.get("PORCH_FAULT_ROUNDS", DEFAULT_ROUNDS)))


def fault_seed() -> int:
    text = os.environ.get("PORCH_FAULT_SEED")
    return int(text) if text else secrets.randbelow(2**32)


def seeded_rng(seed: int) -> random.Random:
    return random.Random(seed)


def fault_timeout(per_round_s: float, base_s: float = 120.0) -> float:
    """A test's time limit, grown with its rounds (for pytest.mark.timeout)."""
    return base_s + per_round_s * fault_rounds()
