"""Sampling-rate conversion through soxr (band-limited, high quality)."""

from __future__ import annotations

import numpy as np
import soxr


def resample(wave: np.ndarray, fs_in: int, fs_out: int, quality: str = "HQ") -> np.ndarray:
    """Resample ``wave [n]`` (or ``[n, c]``) from ``fs_in`` to ``fs_out`` Hz; float32 out."""
    wave = np.asarray(wave, dtype=np.float32)
    if fs_in == fs_out:
        return wave
    return soxr.resample(wave, fs_in, fs_out, quality=quality).astype(np.float32, copy=False)


def resample_to_length(wave: np.ndarray, fs_in: int, fs_out: int, length: int) -> np.ndarray:
    """Resample and then crop or zero-pad to exactly ``length`` samples."""
    y = resample(wave, fs_in, fs_out)
    if len(y) >= length:
        return y[:length]
    return np.pad(y, (0, length - len(y)))
