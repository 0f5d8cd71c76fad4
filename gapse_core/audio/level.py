"""Signal levels the models work at.

SSL features and codec tokens are not level-invariant, so the stages that train on them scale
their clean targets (and the degraded input with the same gain) to RMS ``LEVEL``, and the
branches built on them bring their input near that level before running. Along a recording,
``systems.Enhancer`` runs every stage on each stretch at its own level (:func:`local_level`).
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


LOCAL_LEVEL_SECONDS = 2.0  # the predictive branch's training segments at 16 kHz were this long


def local_level(wave: np.ndarray, fs: int, seconds: float = LOCAL_LEVEL_SECONDS,
                floor_db: float = -60.0) -> np.ndarray:
    """The level of ``wave [n]`` around each sample: the RMS over the quieter of the ``seconds``
    windows that end and that start at the sample.

    ``systems.Enhancer`` divides every stage's inputs by this before the networks and
    multiplies their outputs back, so every stretch of a recording reaches them at the level
    their training segments had (each one normalised as a whole). Without it, a talker 10 dB
    quieter than another in the same chunk reads as the interfering babble the predictive
    branch was trained to remove, and is removed; the generative branches' SSL features and
    codec tokens of that talker are those of noise.

    Of the two one-sided windows, the quieter one is taken: near a step in level it is the one
    that stays on this sample's side of the step, so a quiet stretch beside a loud one is not
    measured by its neighbour's level (a centred window, used until 2026-12-08, took half of
    it). Windows are whole: near the signal's ends they are moved inside it. Levels more than
    ``-floor_db`` dB below the loudest stretch are held at that floor (near-silence is not
    raised to full level).

    Returns:
        ``[n]`` float32, positive.
    """
    x = np.asarray(wave, dtype=np.float64)
    n = x.size
    if n == 0:
        return np.ones(0, np.float32)
    w = max(1, min(int(seconds * fs), n))
    energy = np.concatenate([[0.0], np.cumsum(x * x)])  # energy[k]: of the first k samples
    i = np.arange(n)
    ends_here = np.clip(i - w + 1, 0, n - w)  # the start of the window ending at sample i ...
    starts_here = np.minimum(i, n - w)  # ... and of the one starting there, both inside the signal
    power = np.minimum(energy[ends_here + w] - energy[ends_here], energy[starts_here + w] - energy[starts_here]) / w
    level = np.sqrt(np.maximum(power, 0.0))
    return np.maximum(level, max(float(level.max()) * 10 ** (floor_db / 20), 1e-5)).astype(np.float32)
