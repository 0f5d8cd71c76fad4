"""Real-time factor and peak memory of ``gapse enhance`` (predictive system), per input length and rate.

Each case runs the real command line in a fresh process on a generated file (speech-shaped
noise), so load, chunking, the model and writing are all included, and the peak resident
memory (``ru_maxrss`` of that child) is the whole program's. Writes a markdown table to
``benchmarks/results/predictor_speed.md`` with the date and the machine.

    python benchmarks/predictor_speed.py [--cases 10s@16000,600s@48000] [--device cpu]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = "10s@16000,10s@48000,600s@16000,600s@48000"
# runs the CLI in this child and reports the child's own peak resident memory (KB on Linux)
PEAK_WRAPPER = ("import resource, sys; from gapse_core.cli import main; rc = main(sys.argv[1:]); "
                "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)")


def make_input(path: Path, seconds: float, fs: int) -> None:
    """Write ``seconds`` of noise with a speech-like 4 Hz envelope, in 60 s blocks (flat memory)."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", fs, 1, subtype="PCM_16") as fh:
        left = int(seconds * fs)
        while left > 0:
            n = min(left, 60 * fs)
            t = np.arange(n) / fs
            fh.write((0.1 * rng.standard_normal(n) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))).astype(np.float32))
            left -= n


def run_case(seconds: float, fs: int, device: str, system: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.wav"
        make_input(src, seconds, fs)
        t = time.perf_counter()
        res = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, "enhance", str(src), "-o", str(Path(tmp) / "out"),
                              "--system", system, "--device", device], capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t
        if res.returncode:
            raise SystemExit(res.stderr)
        # the CLI prints the enhancement time itself (model + chunking), excluding start-up
        enh = float(res.stdout.split(", RTF ")[0].rsplit(", ", 1)[1].rstrip(" s"))
    return {"seconds": seconds, "fs": fs, "wall": wall, "enhance": enh, "rtf": enh / seconds,
            "peak_mb": int(res.stderr.split("PEAK_KB ")[1].split()[0]) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=DEFAULT)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--system", default="predictive")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "predictor_speed.md"))
    args = ap.parse_args()
    rows = []
    for case in args.cases.split(","):
        sec, fs = case.split("@")
        r = run_case(float(sec.rstrip("s")), int(fs), args.device, args.system)
        rows.append(r)
        print(f"{r['seconds']:.0f} s at {r['fs']} Hz: enhance {r['enhance']:.2f} s (RTF {r['rtf']:.3f}), "
              f"whole command {r['wall']:.1f} s, peak RSS {r['peak_mb']:.0f} MB", flush=True)
    from gapse_core.checkpoints import load_model
    from gapse_core.systems import SYSTEMS

    model, _ = load_model(SYSTEMS[args.system].checkpoints["predictor"])
    params = sum(p.numel() for p in model.parameters())
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
               f"{torch.get_num_threads()} threads" if args.device == "cpu" else torch.cuda.get_device_name())
    lines = [f"# `{args.system}` speed and memory", "",
             f"Measured {dt.date.today().isoformat()} on {machine}; device `{args.device}`; "
             f"{params / 1e6:.3f} M parameters. Command: `python benchmarks/predictor_speed.py`.", "",
             "RTF = enhancement time / audio duration (model + chunking, from the CLI's own timer); "
             "peak RSS is the whole `gapse enhance` process.", "",
             "| input | enhance (s) | RTF | whole command (s) | peak RSS (MB) |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['seconds']:.0f} s @ {r['fs']} Hz | {r['enhance']:.2f} | {r['rtf']:.3f} | {r['wall']:.1f} | "
                     f"{r['peak_mb']:.0f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
