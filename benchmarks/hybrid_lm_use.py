"""Does the hybrid branch's DPRNN use its token LM? PESQ-WB of the mask fed three ways.

    python benchmarks/hybrid_lm_use.py [CHECKPOINT ...] [--n 8]   # default: the shipped hybrid-small

On the first ``--n`` held-out examples of the ``hybrid`` stage's validation (every distortion
type, 4 s at 16 kHz; the config ``configs/hybrid/small.yaml`` names the frozen DeWavLM and
residual-VQ codec), the mask reads the LM's last hidden states

* **forced**: from teacher forcing on the clean tokens (what plain training shows it);
* **decoded**: from greedy decoding with the KV cache (what inference gives it);
* **zeroed**: all zero (the LM contributes nothing);
* **degraded**: from teacher forcing on the *degraded* speech's own codec tokens (one parallel
  pass instead of greedy decoding: a draft the LM reads instead of its own guesses).

A mask that ignores the LM scores the same every time. Also prints the token accuracy of
greedy decoding, of teacher forcing and of the degraded tokens (against the clean ones), and
the noisy input's PESQ-WB, as a markdown table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gapse_core import metrics  # noqa: E402
from gapse_core.checkpoints import load_model  # noqa: E402
from gapse_core.models.ssl import SSL_RATE  # noqa: E402
from gapse_core.train.hybrid import HybridStage  # noqa: E402
from gapse_core.train.representations import validation_pairs  # noqa: E402
from gapse_core.train.run import load_stage  # noqa: E402


@torch.no_grad()
def lm_use(path: str, stage: HybridStage, pairs: list) -> dict[str, float]:
    model, _ = load_model(path)
    model.eval()
    cpu = torch.device("cpu")
    codec = stage._frozen_parts(cpu)[1]
    rows: dict[str, list[float]] = {k: [] for k in ("noisy", "forced", "decoded", "zeroed", "degraded", "acc_greedy",
                                                    "acc_forced", "acc_degraded")}
    for noisy, clean in pairs:
        feats, tokens = stage._inputs(noisy, clean, cpu)
        degraded_tokens = codec.tokens(noisy)[:, : tokens.shape[1], 0]  # the degraded speech's own first-layer tokens
        ref = clean[0].numpy()
        logits, forced = model.lm(feats, tokens)
        decoded_tokens, decoded = model.lm.generate(feats)
        degraded = model.lm(feats, degraded_tokens)[1]
        for name, hidden in (("forced", forced), ("decoded", decoded), ("zeroed", torch.zeros_like(forced)),
                             ("degraded", degraded)):
            y, _ = model.mask(noisy, hidden)
            rows[name].append(metrics.pesq_wb(y[0].numpy(), ref, SSL_RATE))
        rows["noisy"].append(metrics.pesq_wb(noisy[0].numpy(), ref, SSL_RATE))
        rows["acc_greedy"].append((decoded_tokens == tokens).float().mean().item())
        rows["acc_forced"].append((logits.argmax(-1) == tokens).float().mean().item())
        rows["acc_degraded"].append((degraded_tokens == tokens).float().mean().item())
    return {k: float(np.mean(v)) for k, v in rows.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="*", default=["hybrid-small"])
    ap.add_argument("--config", default=str(ROOT / "configs" / "hybrid" / "small.yaml"))
    ap.add_argument("--n", type=int, default=8, help="held-out examples")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    _, cfg = load_stage("hybrid", args.config)
    cfg.data.val_examples = args.n
    stage = HybridStage(cfg)
    pairs = validation_pairs(cfg.data)
    print(f"{args.n} held-out examples of {args.config} (every distortion, {cfg.data.val_seconds:g} s); PESQ-WB\n")
    print("| checkpoint | noisy | forced | decoded | zeroed | degraded | token acc. greedy | token acc. forced "
          "| token acc. degraded |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in args.checkpoints:
        r = lm_use(path, stage, pairs)
        print(f"| {path} | {r['noisy']:.3f} | {r['forced']:.3f} | {r['decoded']:.3f} | {r['zeroed']:.3f} "
              f"| {r['degraded']:.3f} | {r['acc_greedy']:.3f} | {r['acc_forced']:.3f} | {r['acc_degraded']:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
