"""Log-magnitude spectrograms for display (demo, notebooks, evaluation plots).

Computed on the same SFI STFT the models use (32 ms / 16 ms at every rate) and pooled to a
bounded size, so an hour-long clip still draws quickly.
"""

from __future__ import annotations

import numpy as np
import torch

from .stft import SFISTFT

MAX_FRAMES = 800  # pooled down beyond this
MAX_BINS = 256


def pool(z: np.ndarray | torch.Tensor, mode: str = "max") -> np.ndarray:
    """``[F, T]`` -> at most ``[MAX_BINS, MAX_FRAMES]`` by max (spectra) or average (masks) pooling."""
    z = torch.as_tensor(np.asarray(z, dtype=np.float32))
    f, t = z.shape
    k = (max(1, int(np.ceil(f / MAX_BINS))), max(1, int(np.ceil(t / MAX_FRAMES))))
    if k == (1, 1):
        return z.numpy()
    op = torch.nn.functional.max_pool2d if mode == "max" else torch.nn.functional.avg_pool2d
    return op(z[None, None], k, ceil_mode=True)[0, 0].numpy()


def log_spectrogram(wave: np.ndarray, fs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``wave [n]`` -> ``(times [T'], freqs [F'], dB [F', T'])``, pooled to at most MAX_BINS x MAX_FRAMES."""
    st = SFISTFT(32.0, 16.0)
    spec = st.stft(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None], fs)[0].abs()
    f, t = spec.shape
    db = 20 * np.log10(pool(spec) + 1e-6)
    times = np.arange(db.shape[1]) * (t / db.shape[1]) * st.hop(fs) / fs
    freqs = np.arange(db.shape[0]) * (f / db.shape[0]) * fs / st.n_fft(fs)
    return times, freqs, db
