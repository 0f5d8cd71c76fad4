"""Sampling-rate conversion through soxr (band-limited, high quality), and a differentiable
integer-factor decimation for losses that must hear a model's output at a lower rate."""

from __future__ import annotations

import numpy as np
import soxr
import torch


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


def decimate(wave: torch.Tensor, factor: int) -> torch.Tensor:
    """``wave [..., n]`` -> ``[..., n // factor]``: an ideal low-pass (every FFT bin above the new
    Nyquist dropped) and then every ``factor``-th sample, in one differentiable FFT step.

    It treats the signal as periodic, so it is exact for content below the new Nyquist
    frequency up to the wrap-around at the two ends.
    """
    n = wave.shape[-1] // factor * factor
    spec = torch.fft.rfft(wave[..., :n].float())
    m = n // factor
    return torch.fft.irfft(spec[..., : m // 2 + 1], m) / factor
