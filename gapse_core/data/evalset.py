"""``gapse simulate``: a fixed, seeded evaluation set on held-out speakers, noises and rooms.

Writes ``OUT/clean/ID.wav``, ``OUT/noisy/ID.wav`` and ``OUT/manifest.csv`` (one row per
file, every random parameter). Presets:

- ``urgent``: the URGENT Track 1 draw (noise, reverb p=0.5, 0-3 extra distortions).
- ``denoise``: noise at SNR U[-5, 15] dB, reverb p=0.5, no extra distortion (the predictive
  branch's acceptance set).
- ``each``: cycles through one condition per file: noise only, reverb, bandwidth, clipping,
  codec, packet loss (for per-distortion tables).
- ``packet_loss``: 10-25% of 20 ms packets lost, nothing else (not even noise).
- ``bandwidth4k``: the clean speech band-limited to 4 kHz (down to 8 kHz and back), nothing
  else: what a bandwidth extension must restore, scored by LSD against the full-band clean.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..audio.io import save
from .corpus import load_corpus
from .mixer import DISTORTIONS, Mixer, MixtureConfig

PRESETS = ("urgent", "denoise", "each", "packet_loss", "bandwidth4k")
EACH = ("noise", "reverb") + DISTORTIONS


def simulate(data_dir: str | Path, out: str | Path, n: int = 40, seed: int = 0, preset: str = "urgent",
             rates: tuple[int, ...] = (16000,), seconds: float = 4.0, split: str = "val") -> Path:
    """Write an evaluation set; returns the manifest's path."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    out = Path(out)
    corpus = load_corpus(data_dir, split)
    cfg = MixtureConfig()
    if preset == "denoise":
        cfg = replace(cfg, snr_db=(-5.0, 15.0), p_wind=0.0)
    mixer = Mixer(corpus, cfg, rir_seed=1000 + seed)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        fs = int(rates[i % len(rates)])
        kwargs: dict = {}
        condition = preset
        if preset == "denoise":
            kwargs = {"distortions": ()}
        elif preset == "each":
            condition = EACH[i % len(EACH)]
            kwargs = {"distortions": (condition,) if condition in DISTORTIONS else (),
                      "reverb": condition == "reverb"}
        elif preset in ("packet_loss", "bandwidth4k"):  # one distortion of the clean target, rebuilt below
            kwargs = {"distortions": (), "reverb": False}
        ex = mixer.example(rng, fs, seconds, **kwargs)
        if preset == "packet_loss":  # packet loss alone: rebuild from the clean target
            from . import degrade as D

            rate = float(rng.uniform(0.10, 0.25))
            ex["noisy"] = D.packet_loss(ex["clean"], fs, rate, rng)[0]
            ex["params"].update(noise="none", snr_db="", packet_loss=round(rate, 3), distortions="packet_loss")
        elif preset == "bandwidth4k":
            from . import degrade as D

            ex["noisy"] = D.bandwidth_limit(ex["clean"], fs, 8000)
            ex["params"].update(noise="none", snr_db="", bandwidth="8000/soxr", distortions="bandwidth")
        name = f"{i:04d}"
        save(out / "clean" / f"{name}.wav", ex["clean"], fs)
        save(out / "noisy" / f"{name}.wav", ex["noisy"], fs)
        rows.append({"id": name, "condition": condition if preset == "each" else ex["params"]["distortions"],
                     **ex["params"]})
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return manifest
