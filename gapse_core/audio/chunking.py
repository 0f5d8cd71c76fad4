"""Process long signals in overlapping chunks so memory stays flat.

Each chunk is processed on its own; consecutive chunks overlap by at least ``overlap`` samples
and are cross-faded there with complementary raised-cosine ramps, so the result has no seams.

The chunks are *balanced*: a signal a little longer than one chunk is cut into two chunks of
about half its length each, not into a full chunk and a second one that mostly repeats it
(with 8 s chunks, 10 s of audio costs 10.5 s of processing instead of 16 s). Chunk starts can
be kept on a grid (``align`` samples, e.g. the 20 ms packets whose loss the generative
branches detect by counting from sample 0); the last chunk then ends exactly at the signal's
end and may be up to ``align - 1`` samples longer than the others.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def chunk_spans(n: int, chunk: int, overlap: int, align: int = 1) -> list[tuple[int, int]]:
    """``(start, end)`` of each chunk that :func:`process_in_chunks` cuts an ``n``-sample signal into.

    Args:
        n: signal length in samples.
        chunk: the longest chunk wanted (samples, overlap included).
        overlap: the least overlap of consecutive chunks (``0 < overlap < chunk``).
        align: every start is a multiple of ``align`` samples.

    Returns:
        ``[(0, n)]`` when ``n <= chunk``; otherwise as many chunks as chunks of at most
        ``chunk`` samples need (or fewer, where rounding to the grid lengthens them), all of one
        length ``L`` (rounded up so that starts stay on the grid: ``L <= chunk + align - 1``),
        each overlapping the next by at least ``overlap``; the last one ends at ``n`` and may be
        up to ``align - 1`` samples longer than ``L``.
    """
    if n <= chunk:
        return [(0, n)]
    if not 0 < overlap < chunk:
        raise ValueError("overlap must be in (0, chunk)")
    if align < 1:
        raise ValueError("align must be >= 1")
    count = -(-(n - overlap) // (chunk - overlap))  # fewest chunks of at most `chunk` samples
    step = -(-(n - overlap) // count)  # balanced step ...
    step = -(-step // align) * align  # ... on the grid
    length = step + overlap
    starts = list(range(0, n - length, step))  # chunks that end before the signal does
    last = (n - length) // align * align  # the last chunk: on the grid, ending at n
    if starts and starts[-1] == last:
        starts.pop()
    return [(s, s + length) for s in starts] + [(last, n)]


def process_in_chunks(
    fn: Callable[[np.ndarray], np.ndarray],
    wave: np.ndarray,
    chunk: int,
    overlap: int,
    align: int = 1,
) -> np.ndarray:
    """Apply ``fn`` (``[n, ...] -> [n]``) to ``wave [N, ...]`` chunk by chunk (along the first axis).

    Args:
        fn: processes one chunk and returns as many samples.
        wave: ``[N]`` input, or ``[N, C]`` signals processed together (e.g. a fusion's inputs).
        chunk: the longest chunk wanted, in samples (including the overlap); see :func:`chunk_spans`.
        overlap: samples shared at least by consecutive chunks (``0 < overlap < chunk``).
        align: chunk starts are multiples of ``align`` samples.

    Returns:
        ``[N]`` float32 output; exactly ``fn(wave)`` when ``N <= chunk``.
    """
    n = len(wave)
    if n <= chunk:
        return np.asarray(fn(wave), dtype=np.float32)
    out = np.zeros(n, dtype=np.float32)
    done = 0  # out[:done] holds finished or partly faded samples
    for start, end in chunk_spans(n, chunk, overlap, align):
        y = np.asarray(fn(wave[start:end]), dtype=np.float32)
        shared = max(0, done - start)  # samples this chunk shares with what is already written
        if shared:
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(shared) + 0.5) / shared)
            out[start:done] = out[start:done] * (1.0 - ramp) + y[:shared] * ramp
        out[done:end] = y[shared:]
        done = end
    return out
