"""The working level of the representation and token models.

SSL features and codec tokens are not level-invariant, so the stages that train on them scale
their clean targets (and the degraded input with the same gain) to RMS ``LEVEL``, and the
branches built on them bring their input near that level before running.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.1  # RMS of the clean training targets


def level_gain(wave: np.ndarray, level: float = LEVEL, floor: float = 1e-3) -> float:
    """The gain that brings ``[n]`` to RMS ``level`` (signals below RMS ``floor`` get at most ``level / floor``)."""
    return level / max(float(np.sqrt(np.mean(wave**2))) if wave.size else 0.0, floor)


def normalise(wave: np.ndarray, level: float = LEVEL) -> np.ndarray:
    """Scale ``[n]`` to RMS ``level`` (near-silent crops are left quiet)."""
    return (wave * level_gain(wave, level)).astype(np.float32)
