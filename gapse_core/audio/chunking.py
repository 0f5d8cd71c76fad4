"""Process long signals in overlapping chunks so memory stays flat.

Each chunk is processed on its own; consecutive chunks overlap by ``overlap`` samples and
are cross-faded there with complementary raised-cosine ramps, so the result has no seams.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def chunk_starts(n: int, chunk: int, overlap: int) -> list[int]:
    """Where :func:`process_in_chunks` starts each chunk of an ``n``-sample signal."""
    step = chunk - overlap
    starts = list(range(0, max(n - chunk, 0) + 1, step))
    if starts[-1] + chunk < n:  # the last chunk ends exactly at n
        starts.append(n - chunk)
    return starts


def process_in_chunks(
    fn: Callable[[np.ndarray], np.ndarray],
    wave: np.ndarray,
    chunk: int,
    overlap: int,
) -> np.ndarray:
    """Apply ``fn`` (``[n, ...] -> [n]``) to ``wave [N, ...]`` chunk by chunk (along the first axis).

    Args:
        fn: processes one chunk and returns as many samples.
        wave: ``[N]`` input, or ``[N, C]`` signals processed together (e.g. a fusion's inputs).
        chunk: chunk length in samples (including the overlap).
        overlap: samples shared by consecutive chunks (``0 < overlap < chunk``).

    Returns:
        ``[N]`` float32 output; exactly ``fn(wave)`` when ``N <= chunk``.
    """
    n = len(wave)
    if n <= chunk:
        return np.asarray(fn(wave), dtype=np.float32)
    if not 0 < overlap < chunk:
        raise ValueError("overlap must be in (0, chunk)")
    out = np.zeros(n, dtype=np.float32)
    done = 0  # out[:done] holds finished or partly faded samples
    for start in chunk_starts(n, chunk, overlap):
        y = np.asarray(fn(wave[start:start + chunk]), dtype=np.float32)
        shared = max(0, done - start)  # samples this chunk shares with what is already written
        if shared:
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(shared) + 0.5) / shared)
            out[start:done] = out[start:done] * (1.0 - ramp) + y[:shared] * ramp
        out[done:start + chunk] = y[shared:]
        done = start + chunk
    return out
