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
    if length >= n:  # rounding to the grid made one chunk long enough for the whole signal
        return [(0, n)]
    starts = list(range(0, n - length, step))  # chunks that end before the signal does
    last = (n - length) // align * align  # the last chunk: on the grid, ending at n
    if starts and starts[-1] == last:
        starts.pop()
    return [(s, s + length) for s in starts] + [(last, n)]


class Stitcher:
    """Cross-fades the outputs of consecutive chunks into one signal, a piece at a time.

    ``Stitcher(spans).add(y_k)`` for each chunk ``k`` in order returns the samples that are now
    final; the pieces concatenated are the ``[spans[-1][1]]`` result. Each chunk is cross-faded
    with what earlier chunks left where it starts (complementary raised-cosine ramps); a sample
    is returned once no later chunk reaches it, so only an overlap is ever held back and a long
    signal need never be held whole.

    Args:
        spans: ``(start, end)`` of each chunk, as :func:`chunk_spans` gives them.
    """

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.spans = spans
        self.k = 0  # the next chunk
        self.held = np.zeros(0, dtype=np.float32)  # from the next chunk's start to the last one's end

    def add(self, y: np.ndarray, last: bool = False) -> np.ndarray:
        """``y [end - start]``, chunk ``k``'s output -> ``[m]`` float32 samples now final.

        ``last``: the signal ends with this chunk, which may then be shorter than its span (down
        to what the chunk before left in the overlap); everything left is returned.
        """
        start, end = self.spans[self.k]
        y = np.array(y, dtype=np.float32)  # a copy: the cross-fade writes into it
        shared = len(self.held)
        if len(y) < shared or (len(y) < end - start and not last):
            raise ValueError(f"chunk {self.k} gave {len(y)} samples for a span of {end - start}")
        if shared:
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(shared) + 0.5) / shared)
            y[:shared] = self.held * (1.0 - ramp) + y[:shared] * ramp
        self.k += 1
        if last:
            self.k = len(self.spans)
        final = (self.spans[self.k][0] if self.k < len(self.spans) else end) - start
        self.held = y[final:]
        return y[:final]


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
    if len(wave) <= chunk:
        return np.asarray(fn(wave), dtype=np.float32)
    spans = chunk_spans(len(wave), chunk, overlap, align)
    stitcher = Stitcher(spans)
    return np.concatenate([stitcher.add(fn(wave[s:e])) for s, e in spans])
