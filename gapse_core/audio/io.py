"""Load and save audio with one-line, user-facing errors.

``load`` reads anything libsndfile reads (wav, flac, ogg/vorbis, ogg/opus, mp3, aiff, ...),
downmixes to mono and validates the result. The models run at 8-48 kHz (``MIN_RATE`` to
``MAX_RATE``); files recorded above that, up to ``MAX_INPUT_RATE`` (88.2, 96, 192 kHz), are
accepted too, and :class:`~gapse_core.systems.Enhancer` enhances them at 48 kHz. Every
problem raises :class:`AudioError` whose message names the file and the reason in one line,
so the CLI and the demo can show it as is.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

MIN_RATE = 8000  # the models' rates: every system runs at any rate in [MIN_RATE, MAX_RATE]
MAX_RATE = 48000
MAX_INPUT_RATE = 192000  # inputs above MAX_RATE (up to this) are enhanced at MAX_RATE and resampled back
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
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise _fail(name, f"not a readable audio file ({reason})") from None
    if info.frames == 0:
        raise _fail(name, "the file holds no samples (zero length)")
    _check_rate(info.samplerate, name)
    frames = -1
    if max_seconds is not None and info.frames > max_seconds * info.samplerate:
        if not truncate:
            raise _fail(name, f"too long ({info.frames / info.samplerate:.0f} s; the limit here is {max_seconds:.0f} s)")
        frames = int(max_seconds * info.samplerate)
    try:
        wave, fs = sf.read(str(p), frames=frames, dtype="float32", always_2d=True)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise _fail(name, f"could not decode the audio ({reason})") from None
    return validate(wave, fs, name), int(fs)


def duration(path: str | os.PathLike) -> float:
    """Length of a readable audio file in seconds (header only)."""
    info = sf.info(str(path))
    return info.frames / info.samplerate if info.samplerate else 0.0


def save(path: str | os.PathLike, wave: np.ndarray, fs: int) -> Path:
    """Write mono audio; the format follows the extension (wav/flac/ogg/mp3; unknown -> wav).

    Samples are clipped to [-1, 1]; wav is written as 32-bit float so nothing is lost.
    The file is written to a temporary name first and moved in place, so a crash never
    leaves half a file under the final name.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    wave = np.clip(np.nan_to_num(np.asarray(wave, dtype=np.float32)), -1.0, 1.0)
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
    tmp = p.with_name(f".{p.name}.partial")
    sf.write(str(tmp), wave, fs, format=fmt, subtype=subtype)
    os.replace(tmp, p)
    return p
