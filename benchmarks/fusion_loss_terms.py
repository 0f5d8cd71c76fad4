"""Which term of the fusion loss prefers the fused output to the predictive branch alone?

    python benchmarks/fusion_loss_terms.py [--config configs/fusion/hybrid-small.yaml] [--n 48]
                                           [--fusion NAME_OR_FILE ...] [--out FILE.md]

On the branch cache's held-out split (the first ``--n`` examples, the clips the fusion stage
validates on), each term of the fusion stage's signal loss (``train/fusion.py``: waveforms
divided by the noisy input's level) for the predictive branch alone (M = 1), the generative
branch alone (M = 0) and each ``--fusion`` network's output:

* spectral convergence and log-magnitude L1, the two halves of
  :func:`~gapse_core.losses.multi_resolution_stft_loss` (the first with ``log_weight=0``, the
  second the rest);
* waveform L1.

Each is computed per example and averaged (the stage takes the spectral convergence over a
batch). A mask that mixes in the weaker branch only pays where some term prefers the mix: the
table says which (``checkpoints/fusion-hybrid-small.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gapse_core.config import load_yaml  # noqa: E402
from gapse_core.losses import multi_resolution_stft_loss  # noqa: E402
from gapse_core.train.branch_cache import RATE, load  # noqa: E402
from gapse_core.train.fusion import FusionStageConfig  # noqa: E402
from gapse_core.train.representations import frozen  # noqa: E402
from report import emit  # noqa: E402


def terms(est: torch.Tensor, clean: torch.Tensor, noisy: torch.Tensor) -> tuple[float, float, float]:
    """(spectral convergence, log-magnitude L1, waveform L1) of one example ``[n]``, level-normalised."""
    scale = noisy.std().clamp_min(1e-5)
    e, c = (est / scale)[None], (clean / scale)[None]
    sc = multi_resolution_stft_loss(e, c, log_weight=0).item()
    return sc, multi_resolution_stft_loss(e, c).item() - sc, (e - c).abs().mean().item()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/fusion/hybrid-small.yaml", help="a fusion config (its cache)")
    ap.add_argument("--n", type=int, default=48, help="held-out examples (the fusion stage validates on 48)")
    ap.add_argument("--fusion", nargs="*", default=["fusion-hybrid-small"], help="fusion networks (names or files)")
    ap.add_argument("--out", help="also write the table to this markdown file")
    args = ap.parse_args()
    cfg = load_yaml(FusionStageConfig, args.config)
    cache = load(cfg.cache, "val")
    noisy, clean, pred, gen = (torch.from_numpy(cache[k][: args.n].astype(np.float32))
                               for k in ("noisy", "clean", cfg.data.predictive, cfg.data.generative))
    outputs = {f"{cfg.data.predictive} (M = 1)": pred, f"{cfg.data.generative} (M = 0)": gen}
    for name in args.fusion:
        with torch.no_grad():
            outputs[f"fused by `{name}`"] = frozen(name)(noisy, pred, gen, RATE)[0]
    lines = [f"Fusion loss terms on the first {args.n} held-out examples of `{args.config}`'s cache "
             f"(`python benchmarks/fusion_loss_terms.py --config {args.config} --n {args.n}`)", "",
             "| output | spectral convergence | log-magnitude L1 | waveform L1 |", "|---|---:|---:|---:|"]
    for label, waves in outputs.items():
        mean = np.mean([terms(w, c, x) for w, c, x in zip(waves, clean, noisy)], axis=0)
        lines.append(f"| {label} | " + " | ".join(f"{v:.4f}" for v in mean) + " |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
