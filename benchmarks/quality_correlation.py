"""How closely learned quality models follow DNSMOS OVRL on an evaluation set's signals.

    python benchmarks/quality_correlation.py /tmp/eval/each16k \
        [--systems predictive,paragse,gap-generative] [--models quality-small,OLD.pt] [--out FILE.md]

For every file of a ``gapse simulate`` set: the noisy input, the clean reference and each
system's output, each scored once by DNSMOS (the teacher) and by every ``--models`` entry (a
shipped name or a checkpoint file). Prints, per model, Pearson r with DNSMOS OVRL over all
signals and within each kind of signal, and the mean of each, as a markdown table. The
sets' clips are 4 s, so DNSMOS averages windows of the doubled clip, as ``gapse eval`` does;
the quality stage's own validation uses 4.6 s clips (one window).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gapse_core import metrics  # noqa: E402
from gapse_core.audio.io import load  # noqa: E402
from gapse_core.systems import Enhancer  # noqa: E402
from gapse_core.train.quality import pearson  # noqa: E402
from report import emit  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("set", help="a gapse simulate folder (noisy/ and clean/)")
    ap.add_argument("--systems", default="predictive,paragse,gap-generative")
    ap.add_argument("--models", default="quality-small", help="comma-separated shipped names or .pt files")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--out", help="also write the table to this markdown file")
    args = ap.parse_args()
    t0 = time.time()
    systems, models = args.systems.split(","), args.models.split(",")
    enhancers = {s: Enhancer(s, device="cpu") for s in systems}
    kinds = ["noisy", "clean", *systems]
    teacher: dict[str, list[float]] = {k: [] for k in kinds}
    learned: dict[str, dict[str, list[float]]] = {m: {k: [] for k in kinds} for m in models}
    files = sorted((Path(args.set) / "noisy").glob("*.wav"))[: args.limit or None]
    for i, path in enumerate(files):
        noisy, fs = load(path)
        clean, _ = load(Path(args.set) / "clean" / path.name)
        signals = {"noisy": noisy, "clean": clean, **{s: e.enhance(noisy, fs).final for s, e in enhancers.items()}}
        for kind, y in signals.items():
            teacher[kind].append(metrics.dnsmos(y, fs)["ovrl"])
            for m in models:
                learned[m][kind].append(metrics.learned_quality(y, fs, model=m)["ovrl"])
        print(f"[{i + 1}/{len(files)}] {path.name}", file=sys.stderr, flush=True)

    everything = np.concatenate([teacher[k] for k in kinds])
    lines = [f"Learned OVRL against DNSMOS OVRL on `{args.set}` ({len(files)} files, {len(everything)} signals; "
             f"`python benchmarks/quality_correlation.py {args.set} --systems {args.systems} --models {args.models}`, "
             f"{time.time() - t0:.0f} s)", "",
             "| model | r, all signals | " + " | ".join(f"r {k}" for k in kinds) + " | mean abs. error |",
             "|---|---:|" + "---:|" * len(kinds) + "---:|"]
    for m in models:
        est = np.concatenate([learned[m][k] for k in kinds])
        per_kind = [pearson(np.asarray(learned[m][k]), np.asarray(teacher[k])) for k in kinds]
        lines.append(f"| {m} | {pearson(est, everything):.3f} | " + " | ".join(f"{r:.3f}" for r in per_kind)
                     + f" | {np.abs(est - everything).mean():.3f} |")
    lines += ["", "| signals | DNSMOS OVRL | " + " | ".join(models) + " |", "|---|---:|" + "---:|" * len(models)]
    for k in kinds:
        lines.append(f"| {k} | {np.mean(teacher[k]):.3f} | "
                     + " | ".join(f"{np.mean(learned[m][k]):.3f}" for m in models) + " |")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
