"""Pack a compact copy of the *training* split of a data folder for a GPU machine.

A lent GPU machine sees only the repository (64 MiB in all), not ``../shared/data`` (184 MB of
FLAC). This writes the training speakers' speech and the training noise files as Opus (about
32-40 kbit/s: transparent enough for training targets, ~5x smaller than FLAC), crops long
noise files, keeps every RIR, and precomputes the simulated-room bank the mixer would otherwise
build on the machine (``GAPSE_CACHE``). Held-out speakers and noise files are left out, so the
machine never sees validation material; file *names* are kept (the split hashes names), and
libsndfile reads a file by its content, not its extension.

    python scripts/pack_data.py --data ../shared/data --out .carry/data
    # on the machine: GAPSE_CACHE=.carry/data/cache gapse train STAGE --data .carry/data ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from gapse_core.audio import resample
from gapse_core.data.corpus import _files, is_validation, speaker_of
from gapse_core.data.mixer import MixtureConfig, rir_bank

OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def write_opus(path: Path, wave: np.ndarray, fs: int, level: float) -> int:
    """Write ``[n]`` as Ogg Opus (at the nearest Opus rate at or above ``fs``); returns bytes written."""
    target = next((r for r in OPUS_RATES if r >= fs), 48000)
    if target != fs:
        wave = resample(wave, fs, target)
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak > 0.99:
        wave = wave * (0.99 / peak)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, target, format="OGG", subtype="OPUS", compression_level=level)
    return path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default=".carry/data")
    ap.add_argument("--speech-level", type=float, default=0.9, help="Opus compression level (0.9: ~32 kbit/s)")
    ap.add_argument("--noise-level", type=float, default=0.9)
    ap.add_argument("--noise-seconds", type=float, default=30.0, help="crop each noise file to this length")
    ap.add_argument("--max-per-folder-minutes", type=float, default=10.0,
                    help="speech of a single-speaker folder kept (LJSpeech would outweigh the rest)")
    ap.add_argument("--speech-only", action="store_true",
                    help="training speech alone (no noise, RIRs or rooms): enough for the vocoder and codec stages")
    args = ap.parse_args()
    src, out = Path(args.data), Path(args.out)
    total = 0
    kept: dict[str, float] = {}  # seconds written per single-speaker folder
    for path in _files(src / "speech"):
        spk = speaker_of(path)
        if spk.count("/") == 1 and is_validation(spk, 0.1):
            continue
        wave, fs = sf.read(str(path), dtype="float32", always_2d=True)
        wave = wave.mean(axis=1)
        rel = path.relative_to(src)
        if spk.count("/") == 0:  # one speaker per folder: cap its minutes
            if kept.get(spk, 0.0) > args.max_per_folder_minutes * 60:
                continue
            kept[spk] = kept.get(spk, 0.0) + len(wave) / fs
        total += write_opus(out / rel, wave, fs, args.speech_level)
    if args.speech_only:
        print(f"{out}: {total / 2**20:.1f} MiB (speech only)")
        return
    for path in _files(src / "noise"):
        if is_validation(path.name, 0.2):
            continue
        wave, fs = sf.read(str(path), dtype="float32", always_2d=True)
        wave = wave.mean(axis=1)[: int(args.noise_seconds * fs)]
        total += write_opus(out / path.relative_to(src), wave, fs, args.noise_level)
    for path in _files(src / "rir"):
        dst = out / path.relative_to(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(path.read_bytes())
        total += dst.stat().st_size
    rir_bank(MixtureConfig().rir_bank_size, seed=1, cache_dir=out / "cache")  # the training mixers' rooms
    total += sum(p.stat().st_size for p in (out / "cache").glob("*.npz"))
    print(f"{out}: {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
