"""Does a PercepNet-style post-filter buy the predictive branch DNSMOS OVRL, and at what PESQ cost?

PercepNet (Valin et al., 2020) and DeepFilterNet sharpen an enhancement gain ``G`` in [0, 1]
after the network: ``G' = (1 + b) G / (1 + b / sin^2(pi G / 2))``. ``G' = G`` at ``G = 1``,
and low gains are pushed further down, so residual noise drops (DNSMOS BAK) at the price of
speech in low-SNR bins. Here ``G = |Y| / |X|`` is the effective gain of ``predictor-small``
(enhanced over noisy STFT, so the same code would serve a mapping output); bins with ``G > 1``
are left alone, the phase is the network's.

    python benchmarks/postfilter.py /tmp/eval/dev16k --betas 0,0.02,0.05,0.1,0.2 --out benchmarks/results/postfilter.md

SET is a ``gapse simulate`` folder (``noisy/``, ``clean/``, ``manifest.csv``). Prints and
writes the mean PESQ-WB, ESTOI, SI-SDR and DNSMOS OVRL/SIG/BAK per ``b`` (``b = 0``: the
branch as shipped).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np
import torch

from gapse_core.audio.io import load
from gapse_core.checkpoints import load_model
from gapse_core.metrics import score
from report import emit  # noqa: E402

METRICS = {"pesq": "PESQ-WB", "estoi": "ESTOI", "si_sdr": "SI-SDR (dB)", "dnsmos_ovrl": "DNSMOS OVRL",
           "dnsmos_sig": "SIG", "dnsmos_bak": "BAK"}  # metrics.score's key -> column


def sharpen(gain: torch.Tensor, beta: float) -> torch.Tensor:
    """PercepNet's post-filter of a gain ``[..., F, T]`` in [0, 1] (same shape out)."""
    g = gain.clamp(1e-6, 1.0)
    return (1 + beta) * g / (1 + beta / torch.sin(math.pi / 2 * g).clamp_min(1e-6) ** 2)


def enhance_variants(model, wave: np.ndarray, fs: int, betas: list[float]) -> dict[float, np.ndarray]:
    """``[n]`` noisy -> ``{beta: [n] enhanced}``, the network run once."""
    w = torch.from_numpy(wave).float()[None]
    with torch.no_grad():
        spec, scale = model.forward_spec(w, fs)  # [1, F, T] complex, on the normalised signal
        noisy = model.stft.stft(w / scale, fs)
        gain = spec.abs() / noisy.abs().clamp_min(1e-8)
        out = {}
        for b in betas:
            if b > 0:  # G' / G where G <= 1, else 1
                g = gain.clamp(1e-6, 1.0)
                spec_b = spec * torch.where(gain > 1, torch.ones_like(gain), sharpen(g, b) / g)
            else:
                spec_b = spec
            out[b] = (model.stft.istft(spec_b, fs, w.shape[-1]) * scale)[0].numpy()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set", type=Path)
    ap.add_argument("--betas", default="0,0.02,0.05,0.1,0.2")
    ap.add_argument("--checkpoint", default="predictor-small")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    betas = [float(b) for b in args.betas.split(",")]
    model = load_model(args.checkpoint)[0]
    scores: dict[float, list[list[float]]] = {b: [] for b in betas}
    ids = [r["id"] for r in csv.DictReader(open(args.set / "manifest.csv"))]
    for i in ids:
        noisy, fs = load(args.set / "noisy" / f"{i}.wav")
        clean, _ = load(args.set / "clean" / f"{i}.wav")
        for b, y in enhance_variants(model, noisy, fs, betas).items():
            s = score(y, fs, clean)
            scores[b].append([s[k] for k in METRICS])
    lines = [f"{len(ids)} files of `{args.set}`, `{args.checkpoint}`: `python benchmarks/postfilter.py "
             + " ".join(sys.argv[1:]) + "`", "",
             "| b | " + " | ".join(METRICS.values()) + " |", "|---:|" + "---:|" * len(METRICS)]
    for b in betas:
        lines.append(f"| {b:g} | " + " | ".join(f"{v:.3f}" for v in np.mean(scores[b], axis=0)) + " |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
