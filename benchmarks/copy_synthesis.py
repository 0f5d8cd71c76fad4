"""Copy-synthesis of held-out speakers: teacher features of clean speech -> vocoder, or a codec round trip.

    python benchmarks/copy_synthesis.py [--vocoder vocoder-small] [--teacher ssl-small|log-mel] [--n 40]
    python benchmarks/copy_synthesis.py --codec codec-small [--n 40]

Clean 4 s crops of the validation speakers of ``--data`` (seeded), each level-normalised;
prints PESQ-WB, ESTOI and DNSMOS OVRL/SIG/BAK of the copy-synthesis against the clean
reference, and the clean speech's own DNSMOS (the ceiling), as a markdown table; also the
frame-rate buzz (``metrics.frame_rate_buzz``: how far the 50 Hz harmonics stand out, dB).
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
from gapse_core.checkpoints import load_model  # noqa: E402
from gapse_core.models.vocoder import LOG_MEL, LogMelFrames  # noqa: E402
from gapse_core.train.representations import clean_crops, speech_mixer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocoder", default="vocoder-small")
    ap.add_argument("--teacher", default="ssl-small",
                    help="the vocoder's input: an SSL encoder, or log-mel for a vocoder trained with teacher: log-mel")
    ap.add_argument("--codec", help="score this codec's encode -> quantize -> decode instead of the vocoder")
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.time()
    if args.codec:
        codec = load_model(args.codec)[0]
        what = f"codec {args.codec} ({codec.bitrate / 1000:g} kbit/s)"

        def synthesize(x: torch.Tensor) -> torch.Tensor:
            return codec(x)[0]
    else:
        vocoder = load_model(args.vocoder)[0]
        teacher = (LogMelFrames(vocoder.cfg.backbone.input_dim) if args.teacher == LOG_MEL
                   else load_model(args.teacher)[0])
        what = f"vocoder {args.vocoder}, teacher {args.teacher}"

        def synthesize(x: torch.Tensor) -> torch.Tensor:
            return vocoder.synthesize(teacher.centred(x).acoustic, x.shape[-1])

    crops = clean_crops(speech_mixer(args.data, "val"), np.random.default_rng(args.seed), args.n, args.seconds)
    rows = {"clean": [], "copy-synthesis": []}
    for x in crops:
        with torch.inference_mode():
            y = synthesize(torch.from_numpy(x)[None])[0].numpy()
        rows["clean"].append({**metrics.score(x, 16000, x), "buzz": metrics.frame_rate_buzz(x, 16000)})
        rows["copy-synthesis"].append({**metrics.score(y, 16000, x), "buzz": metrics.frame_rate_buzz(y, 16000)})
    keys = ["pesq", "estoi", "dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "buzz"]
    print(f"{args.n} clean {args.seconds:g} s crops of held-out speakers (seed {args.seed}); "
          f"{what}; {time.time() - t0:.0f} s\n")
    print("| signal | PESQ-WB | ESTOI | DNSMOS OVRL | SIG | BAK | buzz (dB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, rs in rows.items():
        print(f"| {name} | " + " | ".join(f"{np.nanmean([r[k] for r in rs]):.3f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
