"""Token prediction speed on CPU: ParaGSE in parallel vs the same predictor serially vs the hybrid's AR LM.

    python benchmarks/token_speed.py [--seconds 10] [--repeats 3] [--threads 2]

For ``--seconds`` of 16 kHz audio (50 Hz tokens), times the token prediction alone (the
codec and the SSL encoder are not counted; their cost is the same for all three):

* **parallel**: ParaGSE (``configs/paragse/small.yaml``): shared encoder once, every group head;
* **serial**: the same predictor, one full pass per group, one group after another;
* **autoregressive**: the hybrid's LLaMA-style token LM (the shipped size,
  ``configs/hybrid/small.yaml``), greedy decoding of one token per 20 ms with the KV cache.

Weights are random: the time does not depend on them (greedy decoding runs a fixed number of
steps). Prints the median of ``--repeats`` runs after one warm-up, as a markdown table.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gapse_core.models.paragse import ParaGSE  # noqa: E402
from gapse_core.models.token_lm import TokenLM  # noqa: E402
from gapse_core.train.run import load_stage  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    _, cfg = load_stage("paragse", ROOT / "configs" / "paragse" / "small.yaml")
    para = ParaGSE(cfg.model).eval()
    _, hybrid = load_stage("hybrid", ROOT / "configs" / "hybrid" / "small.yaml")
    lm = TokenLM(hybrid.model.lm).eval()
    n = int(args.seconds * 16000)
    t = -(-n // 320) + 1
    wave = torch.randn(1, n) * 0.1
    codes = torch.randint(0, cfg.model.codebook_size, (1, t, cfg.model.streams))
    ssl = torch.randn(1, t, lm.cfg.ssl_dim)
    with torch.inference_mode():
        rows = {
            "ParaGSE, parallel (all groups in one pass)": timed(lambda: para.predict(wave, codes, "parallel"), args.repeats),
            "ParaGSE, serial (one pass per group)": timed(lambda: para.predict(wave, codes, "serial"), args.repeats),
            "hybrid token LM, autoregressive (KV cache)": timed(lambda: lm.generate(ssl), args.repeats),
        }
    params = {"para": sum(p.numel() for p in para.parameters()), "lm": sum(p.numel() for p in lm.parameters())}
    print(f"{args.seconds:g} s of audio = {t} token frames x {cfg.model.streams} groups; {args.threads} threads; "
          f"{platform.processor() or platform.machine()}; ParaGSE {params['para']:,} parameters, "
          f"token LM {params['lm']:,}\n")
    base = rows["ParaGSE, parallel (all groups in one pass)"]
    print("| token prediction | seconds | RTF | vs parallel |")
    print("|---|---:|---:|---:|")
    for name, sec in rows.items():
        print(f"| {name} | {sec:.3f} | {sec / args.seconds:.4f} | {sec / base:.2f}x |")


if __name__ == "__main__":
    main()
