"""How much could mask fusion (hybrid paper, Eq. 1) gain at best, and how much does the learned mask get?

    python benchmarks/fusion_oracle.py [--config configs/fusion/paragse-small.yaml] [--n 48] [--out FILE.md]

On the branch cache's held-out split (``train/branch_cache.py``; the first ``--n`` examples, the
clips the fusion stage validates on), for each generative branch in the cache and both ways of
mixing it (``own`` phase, as Eq. 1 is written, and ``predictive``: its magnitude on the
predictive branch's phase), three masks below 8 kHz:

* **oracle, soft**: per bin the ``M`` in [0, 1] that brings ``M Y_pred + (1 - M) Y_gen``
  closest to the clean spectrum ``S`` (``M = Re((S - G) conj(P - G)) / |P - G|^2``, clipped);
* **oracle, binary**: per bin whichever branch is closer to ``S``;
* **learned**: the shipped fusion network for that branch (``fusion-paragse-small``,
  ``fusion-gap-small``; only with the phase it was trained with).

The oracles know the clean speech, so they bound what Eq. 1 can do with these two branches;
the gap between them and the learned mask is what a better mask estimator could still win.
Prints PESQ-WB and DNSMOS OVRL means (and the mean mask) as a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gapse_core import metrics  # noqa: E402
from gapse_core.audio.stft import SFISTFT  # noqa: E402
from gapse_core.config import load_yaml  # noqa: E402
from gapse_core.train.branch_cache import RATE, load  # noqa: E402
from gapse_core.train.fusion import FusionStageConfig  # noqa: E402
from gapse_core.train.representations import frozen  # noqa: E402
from report import emit  # noqa: E402

LEARNED = {"paragse": "fusion-paragse-small", "gap-generative": "fusion-gap-small"}


def scores(waves: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    pesq = float(np.nanmean([metrics.pesq_wb(y, c, RATE) for y, c in zip(waves, clean)]))
    ovrl = float(np.mean([metrics.dnsmos(y, RATE)["ovrl"] for y in waves]))
    return pesq, ovrl


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/fusion/paragse-small.yaml", help="a fusion config (its cache)")
    ap.add_argument("--n", type=int, default=48, help="held-out examples (the fusion stage validates on 48)")
    ap.add_argument("--out", help="also write the table to this markdown file")
    args = ap.parse_args()
    t0 = time.time()
    cfg = load_yaml(FusionStageConfig, args.config)
    cache = load(cfg.cache, "val")
    clean_np = cache["clean"][: args.n].astype(np.float32)
    noisy_np = cache["noisy"][: args.n].astype(np.float32)
    pred_np = cache[cfg.data.predictive][: args.n].astype(np.float32)
    stft = SFISTFT(cfg.model.win_ms, cfg.model.hop_ms)
    low = stft.bins_up_to(cfg.model.gen_band_hz, RATE)
    n = clean_np.shape[-1]
    S, P = (stft.stft(torch.from_numpy(x), RATE) for x in (clean_np, pred_np))
    rows = [("noisy", "", "", *scores(noisy_np, clean_np), float("nan")),
            (cfg.data.predictive, "", "branch alone", *scores(pred_np, clean_np), 1.0)]
    for gen_name in [s for s in cfg.cache.systems if s != cfg.data.predictive]:
        gen_np = cache[gen_name][: args.n].astype(np.float32)
        rows.append((gen_name, "", "branch alone", *scores(gen_np, clean_np), 0.0))
        G = stft.stft(torch.from_numpy(gen_np), RATE)
        learned = LEARNED.get(gen_name)
        model = frozen(learned) if learned else None
        for phase in ("own", "predictive"):
            Gx = G if phase == "own" else G.abs() * P / P.abs().clamp_min(1e-8)
            diff = P - Gx
            soft = (((S - Gx) * diff.conj()).real / (diff.abs() ** 2).clamp_min(1e-10)).clamp(0, 1)
            binary = ((P - S).abs() < (Gx - S).abs()).float()
            for tag, mask in (("oracle, soft", soft), ("oracle, binary", binary)):
                mask[:, low:] = 1
                fused = stft.istft(mask * P + (1 - mask) * Gx, RATE, n).numpy()
                rows.append((gen_name, phase, tag, *scores(fused, clean_np), float(mask[:, :low].mean())))
            if model is not None and model.cfg.gen_phase == phase:
                with torch.no_grad():
                    fused_t, mask = model(*(torch.from_numpy(x) for x in (noisy_np, pred_np, gen_np)), RATE)
                rows.append((gen_name, phase, f"learned (`{learned}`)", *scores(fused_t.numpy(), clean_np),
                             float(mask[:, :low].mean())))
        print(f"{gen_name} done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    lines = [f"Mask fusion on the branch cache's first {args.n} held-out examples (`python benchmarks/fusion_oracle.py "
             f"--config {args.config} --n {args.n}`, {time.time() - t0:.0f} s; masks below "
             f"{cfg.model.gen_band_hz:.0f} Hz, M = 1 above)", "",
             "| generative branch | mixed on phase | mask | PESQ-WB | DNSMOS OVRL | mean M |", "|---|---|---|---:|---:|---:|"]
    for gen_name, phase, tag, pesq, ovrl, m in rows:
        lines.append(f"| {gen_name} | {phase} | {tag} | {pesq:.3f} | {ovrl:.3f} | {'' if np.isnan(m) else f'{m:.2f}'} |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
