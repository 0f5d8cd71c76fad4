"""Enhance an audio file of any length with flat memory: ``gapse enhance``'s path from file to file.

A recording is read in blocks of ``BLOCK_SECONDS`` that overlap by ``OVERLAP_SECONDS`` (block
starts on the 20 ms packet grid, as the :class:`~gapse_core.systems.Enhancer`'s own chunks), each
block is enhanced on its own, and consecutive blocks are cross-faded
(:class:`~gapse_core.audio.chunking.Stitcher`) and written out as they finish. Memory holds
one block of each signal however long the file is (``gap-urgenet`` with every branch saved
peaked at 1.6 GB for ten minutes at 192 kHz and 1.9 GB for an hour:
``benchmarks/results/long_file.md``).

An output louder than full scale is scaled down as a whole, never block by block (that would
step its level at block boundaries): every output is first written unscaled to a temporary
32-bit float wav beside its target, and a second pass copies it into the target's format,
scaled by the whole file's peak (so the disk briefly holds each output twice). A file shorter
than one block is enhanced in one call, so its result is exactly what :meth:`Enhancer.enhance`
gives.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from .audio.chunking import Stitcher, chunk_spans
from .audio.io import RIFF_LIMIT, open_writer, probe, read_blocks
from .systems import PEAK, Enhancer, Progress

BLOCK_SECONDS = 120.0  # the audio one enhancement call holds (per signal: 23 M samples at 192 kHz)
OVERLAP_SECONDS = 1.0  # consecutive blocks share this much, cross-faded


def enhance_to_files(enhancer: Enhancer, src: str | os.PathLike, targets: dict[str, Path],
                     progress: Progress | None = None, block_seconds: float = BLOCK_SECONDS,
                     overlap_seconds: float = OVERLAP_SECONDS,
                     header: tuple[int, int] | None = None) -> tuple[int, int]:
    """Enhance the file ``src`` into the files ``targets``, block by block.

    Args:
        enhancer: the system to run.
        src: any file :func:`~gapse_core.audio.io.load` reads (8 to 192 kHz, any length).
        targets: output -> file: ``"final"`` and any of the system's branches
            (``"predictive"``, ``"generative"``); each is written at ``src``'s rate and length,
            in the format its suffix names, and appears only once complete.
        progress: ``(stage, done, total)`` after each chunk, counted over the whole file.
        block_seconds / overlap_seconds: block length and overlap.
        header: ``(frames, fs)`` from :func:`~gapse_core.audio.io.probe` when the caller has
            already read it (to size a progress bar); else ``src``'s header is read here.

    Returns:
        ``(frames, fs)`` of ``src``: the frames read, fewer than its header says when the file
        is cut off (a broken download); every output then ends where the audio does.

    Raises:
        AudioError: ``src`` cannot be read or holds bad samples (no target is then written).
    """
    frames, fs = header or probe(src)
    align = max(1, round(fs / 50))
    block = max(int(block_seconds * fs), int(2 * overlap_seconds * fs) + align)
    spans = chunk_spans(frames, block, int(overlap_seconds * fs), align)
    with contextlib.ExitStack() as cleanup:
        staged = {key: _temporary_beside(path, cleanup) for key, path in targets.items()}
        peaks, frames = _enhance_blocks(enhancer, src, spans, fs, staged, progress)
        for key, path in targets.items():
            _copy_scaled(staged[key], path, fs, frames, PEAK / peaks[key] if peaks[key] > PEAK else 1.0)
    return frames, fs


def _temporary_beside(path: Path, cleanup: contextlib.ExitStack) -> Path:
    """A new hidden file in ``path``'s folder (same disk, never a name the user has), removed on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".unscaled.wav", dir=path.parent)
    os.close(handle)
    cleanup.callback(Path(name).unlink, missing_ok=True)
    return Path(name)


def _enhance_blocks(enhancer: Enhancer, src, spans: list[tuple[int, int]], fs: int, staged: dict[str, Path],
                    progress: Progress | None) -> tuple[dict[str, float], int]:
    """Enhance each span of ``src``, stitch, and write every output unscaled to ``staged``.

    Returns:
        ``({output: its peak}, frames read)``.
    """
    frames = spans[-1][1]
    fmt = "RF64" if 4 * frames > RIFF_LIMIT else "WAV"
    stitchers = {key: Stitcher(spans) for key in staged}
    peaks = dict.fromkeys(staged, 0.0)
    counted = 0  # chunks done in earlier blocks
    with contextlib.ExitStack() as files:
        out = {key: files.enter_context(sf.SoundFile(str(p), "w", fs, 1, "FLOAT", format=fmt))
               for key, p in staged.items()}
        for k, block in enumerate(read_blocks(src, spans)):
            seen = {"total": 0}
            r = enhancer.enhance(block, fs, progress=_in_block(progress, counted, k, len(spans), seen),
                                 limit_peak=len(spans) == 1)
            counted += seen["total"]
            start, end = spans[k]
            cut = len(block) < end - start  # the file ends before its header says: this block is the last
            signals = {"final": r.final, **r.branches}
            for key, f in out.items():
                piece = stitchers[key].add(signals[key], last=cut)
                if piece.size:
                    peaks[key] = max(peaks[key], float(np.max(np.abs(piece))))
                f.write(piece)
            if cut:
                frames = start + len(block)
    return peaks, frames


def _in_block(progress: Progress | None, counted: int, k: int, blocks: int, seen: dict) -> Progress:
    """Block ``k``'s progress as a share of the whole file's: the blocks are about equally long."""
    def report(stage: str, done: int, total: int) -> None:
        seen["total"] = total
        if progress is not None:
            label = stage if blocks == 1 else f"{stage}, block {k + 1}/{blocks}"
            progress(label, counted + done, counted + total * (blocks - k))
    return report


def _copy_scaled(staged: Path, target: Path, fs: int, frames: int, gain: float,
                 piece_seconds: float = 30.0) -> None:
    """Copy the float wav ``staged`` into ``target`` (its own format), times ``gain``, piece by piece."""
    with open_writer(target, fs, frames) as write, sf.SoundFile(str(staged)) as f:
        for piece in f.blocks(blocksize=int(piece_seconds * fs), dtype="float32"):
            write(piece * gain if gain != 1.0 else piece)

