"""Load and save audio with one-line, user-facing errors.

``load`` reads anything libsndfile reads (wav, flac, ogg/vorbis, ogg/opus, mp3, aiff, ...),
downmixes to mono and validates the result. The models run at 8-48 kHz (``MIN_RATE`` to
``MAX_RATE``); files recorded above that, up to ``MAX_INPUT_RATE`` (88.2, 96, 192 kHz), are
accepted too, and :class:`~gapse_core.systems.Enhancer` enhances them at 48 kHz. Every
problem raises :class:`AudioError` whose message names the file and the reason in one line,
so the CLI and the demo can show it as is.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import soundfile as sf

MIN_RATE = 8000  # the models' rates: every system runs at any rate in [MIN_RATE, MAX_RATE]
MAX_RATE = 48000
MAX_INPUT_RATE = 192000  # inputs above MAX_RATE (up to this) are enhanced at MAX_RATE and resampled back
RIFF_LIMIT = 2**32 - 2**20  # bytes of samples a plain wav holds (its sizes are 32-bit); beyond: RF64
# what a folder of recordings is searched for (libsndfile's formats; mp3 and opus included)
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au",
                            ".caf", ".w64", ".rf64"})


def audio_files(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """The audio files in ``folder`` (suffixes in ``AUDIO_SUFFIXES``), sorted; with ``recursive``
    also in its sub-folders. Hidden files and anything inside a hidden sub-folder are left out."""
    folder = Path(folder)
    return sorted(f for f in (folder.rglob("*") if recursive else folder.iterdir())
                  if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file()
                  and not any(part.startswith(".") for part in f.relative_to(folder).parts))


class AudioError(ValueError):
    """An input cannot be used; ``str(err)`` is a one-line message for the user."""


def _fail(name: str, reason: str) -> AudioError:
    return AudioError(f"{name}: {reason}")


def _check_rate(fs: int, name: str) -> None:
    if fs < MIN_RATE or fs > MAX_INPUT_RATE:
        raise _fail(name, f"sampling rate {fs} Hz is outside the supported {MIN_RATE}-{MAX_INPUT_RATE} Hz")


def validate(wave: np.ndarray, fs: int, name: str = "input") -> np.ndarray:
    """Check a waveform and return it as contiguous float32 mono.

    Args:
        wave: ``[n]`` mono or ``[n, channels]`` samples (channels are averaged).
        fs: sampling rate in Hz; must lie in [MIN_RATE, MAX_INPUT_RATE].
        name: how to call the input in error messages.
    """
    wave = np.asarray(wave)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    elif wave.ndim != 1:
        raise _fail(name, f"expected mono or multichannel audio, got an array of shape {wave.shape}")
    if not np.issubdtype(wave.dtype, np.floating):
        if np.issubdtype(wave.dtype, np.integer):
            wave = wave.astype(np.float32) / float(np.iinfo(wave.dtype).max)
        else:
            raise _fail(name, f"unsupported sample type {wave.dtype}")
    if wave.size == 0:
        raise _fail(name, "the file holds no samples (zero length)")
    if not np.all(np.isfinite(wave)):
        raise _fail(name, "the audio contains NaN or infinite samples")
    if not isinstance(fs, (int, np.integer)) or fs <= 0:
        raise _fail(name, f"invalid sampling rate {fs!r}")
    _check_rate(fs, name)
    return np.ascontiguousarray(wave, dtype=np.float32)


def probe(path: str | os.PathLike) -> tuple[int, int]:
    """``(frames, fs)`` of an audio file, from its header, with :func:`load`'s checks.

    Raises:
        AudioError: missing, empty, unreadable or non-audio file, no samples, unsupported rate.
    """
    p = Path(path)
    name = str(path)
    if not p.exists():
        raise _fail(name, "no such file")
    if p.is_dir():
        raise _fail(name, "is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise _fail(name, "the file is empty (0 bytes)")
    try:
        info = sf.info(str(p))
    except Exception as exc:  # libsndfile's messages are multi-line and technical
        raise _fail(name, f"not a readable audio file ({_reason(exc)})") from None
    if info.frames == 0:
        raise _fail(name, "the file holds no samples (zero length)")
    _check_rate(info.samplerate, name)
    return int(info.frames), int(info.samplerate)


def _reason(exc: Exception) -> str:
    return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__


def load(path: str | os.PathLike, *, max_seconds: float | None = None, truncate: bool = False) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 mono.

    Args:
        path: the file.
        max_seconds: if given, files longer than this are refused, or with ``truncate``
            only their first ``max_seconds`` are read (the demo's limit; memory stays small).

    Returns:
        ``(wave [n], fs)``.

    Raises:
        AudioError: missing, empty, unreadable or non-audio file, NaN samples, unsupported rate, too long.
    """
    name = str(path)
    n, fs = probe(path)
    frames = -1
    if max_seconds is not None and n > max_seconds * fs:
        if not truncate:
            raise _fail(name, f"too long ({n / fs:.0f} s; the limit here is {max_seconds:.0f} s)")
        frames = int(max_seconds * fs)
    try:
        wave, fs = sf.read(str(path), frames=frames, dtype="float32", always_2d=True)
    except Exception as exc:
        raise _fail(name, f"could not decode the audio ({_reason(exc)})") from None
    return validate(wave, fs, name), int(fs)


def read_blocks(path: str | os.PathLike, spans: list[tuple[int, int]]) -> Iterator[np.ndarray]:
    """Read ``path`` as the float32 mono blocks ``wave[start:end]`` of ``spans``, one at a time.

    The spans start at 0 and each overlaps or touches the one before (as :func:`~gapse_core.
    audio.chunking.chunk_spans` gives them); the file is read once, front to back, so memory
    holds one block however long the file is. Each block gets :func:`validate`'s checks. A file
    that ends before its header says (a cut-off mp3 download) ends the blocks there: the last
    one yielded is then shorter than its span.

    Raises:
        AudioError: the file cannot be decoded, or a block holds NaN samples.
    """
    name = str(path)
    try:
        f = sf.SoundFile(str(path))
    except Exception as exc:
        raise _fail(name, f"not a readable audio file ({_reason(exc)})") from None
    with f:
        kept, kept_from = np.zeros(0, np.float32), 0  # the samples [kept_from, kept_from + len(kept))
        for start, end in spans:
            new_from = max(start, kept_from + len(kept))
            try:
                new = f.read(end - new_from, dtype="float32", always_2d=True)
            except Exception as exc:
                raise _fail(name, f"could not decode the audio ({_reason(exc)})") from None
            new = validate(new, f.samplerate, name) if len(new) else np.zeros(0, np.float32)
            block = np.concatenate([kept[start - kept_from:], new])
            if not len(block):
                raise _fail(name, "the file holds no samples (zero length)")
            kept, kept_from = block, start
            yield block
            if len(block) < end - start:
                return


@contextlib.contextmanager
def open_writer(path: str | os.PathLike, fs: int, frames: int | None = None) -> Iterator[Callable[[np.ndarray], None]]:
    """Write mono audio piece by piece: ``with open_writer(p, fs) as write: write(piece)...``.

    The format follows the extension (wav/flac/ogg/mp3; unknown -> wav); samples are clipped to
    [-1, 1]; wav is 32-bit float so nothing is lost. Everything goes to a hidden temporary name
    that replaces ``path`` only when the block ends without an error (and is removed if it
    raises), so neither a crash nor a failed input ever leaves half a file under the final name.
    ``frames``, the length when known, lets a wav too large for a RIFF header (4 GiB: over
    about 3 hours at 96 kHz) be written as RF64.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    ext = p.suffix.lower().lstrip(".")
    fmt, subtype = {
        "wav": ("WAV", "FLOAT"),
        "flac": ("FLAC", "PCM_24"),
        "ogg": ("OGG", "VORBIS"),
        "opus": ("OGG", "OPUS"),
        "mp3": ("MP3", None),
    }.get(ext, ("WAV", "FLOAT"))
    if fmt == "FLAC" and fs > 655350:
        fmt, subtype = "WAV", "FLOAT"
    if fmt == "WAV" and frames is not None and 4 * frames > RIFF_LIMIT:
        fmt = "RF64"
    tmp = p.with_name(f".{p.name}.partial")
    try:
        with sf.SoundFile(str(tmp), "w", fs, 1, subtype, format=fmt) as f:
            yield lambda piece: f.write(np.clip(np.nan_to_num(np.asarray(piece, dtype=np.float32)), -1.0, 1.0))
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)


def duration(path: str | os.PathLike) -> float:
    """Length of a readable audio file in seconds (header only)."""
    info = sf.info(str(path))
    return info.frames / info.samplerate if info.samplerate else 0.0


def save(path: str | os.PathLike, wave: np.ndarray, fs: int) -> Path:
    """Write mono audio ``wave [n]`` at ``fs`` Hz, atomically; see :func:`open_writer`."""
    with open_writer(path, fs, len(wave)) as write:
        write(wave)
    return Path(path)
