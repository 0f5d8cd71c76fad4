"""Degrade a clean clip with explicit settings (the demo's playground and the notebooks' sliders).

Unlike :class:`~gapse_core.data.mixer.Mixer`, which draws every parameter, here each one is
given; the same distortion functions of :mod:`gapse_core.data.degrade` do the work, in the
URGENT order: reverb -> noise -> bandwidth limit -> clipping -> codec -> packet loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio.resample import resample
from . import degrade as D

NOISES = ("none", "white", "pink", "brown", "wind")
CODECS = ("none", "mp3", "vorbis", "opus")


@dataclass
class Degradation:
    """Settings of one degraded clip; zero/``"none"`` switches a distortion off."""

    noise: str = "pink"
    snr_db: float = 5.0
    rt60: float = 0.0  # seconds; 0 = dry
    band_limit_hz: int = 0  # keep content below this frequency; 0 = full band
    clip_fraction: float = 0.0  # share of samples clipped (half at each end)
    codec: str = "none"
    codec_quality: float = 0.5  # 0 best .. 1 most compressed
    packet_loss: float = 0.0  # share of 20 ms packets lost
    seed: int = 0


def degrade(clean: np.ndarray, fs: int, d: Degradation) -> tuple[np.ndarray, np.ndarray]:
    """``clean [n]`` -> ``(degraded [n], target [n])``; the target is the early-reverberant clean speech."""
    if d.noise not in NOISES:
        raise ValueError(f"unknown noise {d.noise!r}; choose from {NOISES}")
    if d.codec not in CODECS:
        raise ValueError(f"unknown codec {d.codec!r}; choose from {CODECS}")
    rng = np.random.default_rng(d.seed)
    x = np.asarray(clean, dtype=np.float32)
    target = x
    if d.rt60 > 0:
        rir, _ = D.simulate_rir(rng, 16000, rt60=d.rt60)
        x, target = D.reverberate(x, resample(rir, 16000, fs), fs)
    if d.noise != "none":
        n = len(x)
        noise = D.wind_noise(n, fs, rng) if d.noise == "wind" else \
            D.colored_noise(n, {"white": 0.0, "pink": 1.0, "brown": 2.0}[d.noise], rng)
        x, _ = D.add_noise(x, noise, d.snr_db, fs)
    if 0 < d.band_limit_hz < fs / 2:
        x = D.bandwidth_limit(x, fs, int(2 * d.band_limit_hz))
    if d.clip_fraction > 0:
        x = D.clip(x, d.clip_fraction / 2, 1 - d.clip_fraction / 2)
    if d.codec != "none":
        x = D.codec(x, fs, d.codec, d.codec_quality)
    if d.packet_loss > 0:
        x = D.packet_loss(x, fs, d.packet_loss, rng)[0]
    peak = max(float(np.max(np.abs(x))), float(np.max(np.abs(target))), 1e-6)
    scale = min(1.0, 0.9 / peak)
    return (x * scale).astype(np.float32), (target * scale).astype(np.float32)
