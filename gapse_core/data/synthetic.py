"""A miniature corpus that gapse makes itself, in the layout of ``../shared/data``.

For tests and for the notebooks' QUICK mode on a machine without the real data: speakers
are espeak-ng voices (or, without espeak-ng, harmonic "voiced" signals with a per-speaker
pitch), noises are coloured, babble-free random signals, rooms are exponentially decaying
noise responses. It is only meant to exercise the pipeline; models trained on it learn
nothing about real speech.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio.resample import resample

ESPEAK_VOICES = ("en", "en+f3", "en-us", "en+m3", "en-gb-x-rp", "en+f2", "en-us+m5", "en+f4", "en-gb-scotland",
                 "en+m7", "en-us+f5", "en+m2")
SENTENCES = ("The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
             "It is easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
             "Rice is often served in round bowls.", "The juice of lemons makes fine punch.")


def harmonic(seconds: float, fs: int, f0: float, seed: int) -> np.ndarray:
    """A voiced, speech-like signal ``[n]``: harmonics of a wobbling f0 under a syllable-rate envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    f = f0 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(f) / fs
    x = sum(np.sin(k * phase) / k for k in range(1, 12) if k * f0 < fs / 2.2)
    env = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)), 0, None)
    return (0.3 * x * env / np.max(np.abs(x))).astype(np.float32)


def espeak(text: str, fs: int = 16000, voice: str = "en", rate_wpm: int = 150) -> np.ndarray:
    """Speech ``[n]`` from espeak-ng at ``fs``, peak 0.5; raises ``FileNotFoundError`` without espeak-ng."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = subprocess.run([exe, "-v", voice, "-s", str(rate_wpm), "--stdout", text], check=True,
                         capture_output=True).stdout
    x, sr = sf.read(io.BytesIO(wav), dtype="float32")
    x = resample(x, sr, fs)
    return (0.5 * x / max(1e-9, float(np.max(np.abs(x))))).astype(np.float32)


def make_corpus(root: str | Path, n_speakers: int = 12, utterances: int = 2, n_noises: int = 8,
                n_rirs: int = 3, speech: str = "auto", seed: int = 0) -> Path:
    """Write the miniature corpus under ``root`` and return it.

    ``speech``: ``"espeak"``, ``"harmonic"`` or ``"auto"`` (espeak-ng when installed).
    Speakers are named LibriSpeech-style (``1000-1-0000.flac``) so the held-out split works.
    """
    root = Path(root)
    use_espeak = speech == "espeak" or (speech == "auto" and shutil.which("espeak-ng") is not None)
    rng = np.random.default_rng(seed)
    for s in range(n_speakers):
        for u in range(utterances):
            if use_espeak:
                x = espeak(SENTENCES[(s + u) % len(SENTENCES)], 16000, ESPEAK_VOICES[s % len(ESPEAK_VOICES)],
                           rate_wpm=140 + 5 * (s % 5))
            else:
                x = harmonic(2.5, 16000, 90 + 12 * s, seed=100 * s + u)
            path = root / "speech" / "mini" / f"{1000 + s}-1-{u:04d}.flac"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, x, 16000)
    for i in range(n_noises):
        white = rng.standard_normal(32000 * 3)
        spec = np.fft.rfft(white)
        spec /= np.maximum(1.0, np.arange(len(spec)) / 200.0) ** (0.5 * (i % 3))  # white, pink-ish, red-ish
        x = np.fft.irfft(spec, len(white))
        path = root / "noise" / "mini" / f"noise_{i}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.1 * x / np.std(x)).astype(np.float32), 32000)
    for i in range(n_rirs):
        n = 8000
        rir = rng.standard_normal(n) * np.exp(-np.arange(n) / (800 + 400 * i))
        rir[0] = 4.0
        path = root / "rir" / f"room_{i}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (rir / np.max(np.abs(rir))).astype(np.float32), 16000)
    return root
