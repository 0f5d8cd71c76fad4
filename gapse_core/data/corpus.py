"""Folders of speech, noise and room responses -> in-memory corpora with held-out splits.

Validation holds out whole speakers (never just utterances) and whole noise files, chosen by a
stable hash of their names, so a checkpoint's validation numbers are on voices and noises it
never heard. The layout expected under ``--data`` is that of ``../shared/data``::

    speech/<set>/<speaker>-<chapter>-<utt>.flac   (LibriSpeech-style names; other sets: one speaker per folder)
    noise/<set>/*.flac
    rir/*.flac
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

AUDIO_EXT = {".flac", ".wav", ".ogg", ".mp3"}


def is_validation(name: str, fraction: float) -> bool:
    """Stable split: ``name`` belongs to validation when its CRC32 falls in the first ``fraction``."""
    return (zlib.crc32(name.encode()) % 1000) < fraction * 1000


def speaker_of(path: Path) -> str:
    """``103-1240-0000.flac`` -> ``103`` (LibriSpeech); otherwise the folder name (one speaker)."""
    stem = path.stem
    if "-" in stem and stem.split("-")[0].isdigit():
        return f"{path.parent.name}/{stem.split('-')[0]}"
    return path.parent.name


@dataclass
class Clip:
    """One recording in memory."""

    name: str
    wave: np.ndarray  # [n] float32
    fs: int
    group: str = ""  # speaker for speech, set for noise


@dataclass
class Corpus:
    """Speech, noise and measured RIRs of one split."""

    speech: list[Clip] = field(default_factory=list)
    noise: list[Clip] = field(default_factory=list)
    rirs: list[Clip] = field(default_factory=list)

    def summary(self) -> str:
        spk = len({c.group for c in self.speech})
        sec = sum(len(c.wave) / c.fs for c in self.speech)
        nsec = sum(len(c.wave) / c.fs for c in self.noise)
        return (f"{len(self.speech)} utterances from {spk} speakers ({sec / 60:.1f} min), "
                f"{len(self.noise)} noise files ({nsec / 60:.1f} min), {len(self.rirs)} measured RIRs")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXT) if folder.is_dir() else []


def _read(path: Path) -> tuple[np.ndarray, int]:
    wave, fs = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(wave.mean(axis=1)), int(fs)


def check_corpus(data_dir: str | Path) -> Path:
    """``data_dir`` as a Path; ``FileNotFoundError`` (one line) unless it has a ``speech/`` folder."""
    root = Path(data_dir)
    if not (root / "speech").is_dir():
        raise FileNotFoundError(f"{root}: no speech/ folder (expected the layout of ../shared/data)")
    return root


def load_corpus(data_dir: str | Path, split: str, val_speakers: float = 0.1, val_noise: float = 0.2,
                max_speech: int | None = None) -> Corpus:
    """Load one split (``"train"`` or ``"val"``) of the data folder into memory.

    Args:
        data_dir: folder with ``speech/``, ``noise/`` and ``rir/``.
        split: ``"train"`` or ``"val"``.
        val_speakers: fraction of speakers held out (single-speaker sets stay in training).
        val_noise: fraction of noise files held out.
        max_speech: keep at most this many utterances (quick runs).
    """
    if split not in ("train", "val"):
        raise ValueError("split must be 'train' or 'val'")
    root = check_corpus(data_dir)
    want_val = split == "val"
    corpus = Corpus()
    for path in _files(root / "speech"):
        spk = speaker_of(path)
        multi = spk.count("/") == 1
        if (multi and is_validation(spk, val_speakers)) != want_val:
            continue
        wave, fs = _read(path)
        corpus.speech.append(Clip(path.stem, wave, fs, spk))
        if max_speech and len(corpus.speech) >= max_speech:
            break
    for path in _files(root / "noise"):
        if is_validation(path.name, val_noise) != want_val:
            continue
        wave, fs = _read(path)
        corpus.noise.append(Clip(path.stem, wave, fs, path.parent.name))
    for path in _files(root / "rir"):
        if is_validation(path.name, 0.2) != want_val:
            continue
        wave, fs = _read(path)
        corpus.rirs.append(Clip(path.stem, wave, fs, "measured"))
    if not corpus.speech:
        raise FileNotFoundError(f"{root}: no speech for the {split} split")
    return corpus
