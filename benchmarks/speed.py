"""Real-time factor and peak memory of every gapse system and every peer, per input length and rate.

Each (enhancer, input) case runs in a fresh Python process that loads the input file, builds
the enhancer (checkpoints / peer models), enhances and writes the result; the RTF is the
enhancement call alone divided by the audio's duration, the peak resident memory
(``ru_maxrss``) is the whole child's, imports included. Inputs up to 60 s are enhanced
``--repeat`` times (3) in the same process and the median call is reported, so one slow call
on a busy machine does not set the number. Inputs are generated noise with a
speech-like 4 Hz envelope. Parameters and MACs per second of audio of each gapse model come
from ``benchmarks/model_size.py``. Writes ``benchmarks/results/speed.md`` with date and machine.

    python benchmarks/speed.py [--cases 10s@16000,600s@48000] [--only predictive,rnnoise] [--device cpu]

With ``--only``, the rows already in ``--out`` that this run does not re-measure are kept
(re-measure one enhancer, or some cases of it, without re-running all).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
DEFAULT_CASES = "10s@16000,10s@48000,600s@16000,600s@48000"


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


def child(kind: str, name: str, src: str, dst: str, device: str, repeat: int = 1) -> None:
    """Runs in the fresh process: load, build, enhance (timed ``repeat`` times, median), save; prints one JSON line."""
    from gapse_core.audio.io import load, save

    wave, fs = load(src)
    if kind == "system":
        from gapse_core.systems import Enhancer

        enh = Enhancer(name, device=device)
        run = lambda: enh.enhance(wave, fs).final  # noqa: E731
    else:
        from gapse_core.peers import get_peer

        peer = get_peer(name)
        run = lambda: peer.enhance(wave, fs)  # noqa: E731
    if kind == "system":  # warm-up on 1 s (thread pools, allocator), as any long-running server would be
        enh.enhance(np.zeros(fs, np.float32), fs)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        y = run()
        times.append(time.perf_counter() - t)
    seconds = float(np.median(times))
    save(dst, y, fs)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"enhance": seconds, "peak_mb": peak_kb / 1024}))


def run_case(kind: str, name: str, seconds: float, fs: int, device: str, repeat: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.wav"
        make_input(src, seconds, fs)
        t = time.perf_counter()
        res = subprocess.run([sys.executable, __file__, "--child", kind, name, str(src), str(Path(tmp) / "out.wav"),
                              "--device", device, "--repeat", str(repeat)], capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - t
    if res.returncode:
        raise SystemExit(f"{name} {seconds} s @ {fs}: {res.stderr[-2000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return {"name": name, "kind": kind, "seconds": seconds, "fs": fs, "wall": wall, "rtf": out["enhance"] / seconds,
            **out}


def model_rows() -> list[str]:
    """Parameters and GMAC/s of every checkpoint a gapse system uses."""
    from model_size import macs_per_second

    from gapse_core.checkpoints import load_model
    from gapse_core.systems import SYSTEMS

    lines = ["| checkpoint | used by | parameters | GMAC/s @ 16 kHz | GMAC/s @ 48 kHz |", "|---|---|---:|---:|---:|"]
    seen: dict[str, list[str]] = {}
    for sys_name, spec in SYSTEMS.items():
        for ckpt in spec.checkpoints.values():
            seen.setdefault(ckpt, []).append(sys_name)
    for ckpt, users in seen.items():
        model, _ = load_model(ckpt)
        params = sum(p.numel() for p in model.parameters())
        g16, g48 = (macs_per_second(model, fs) / 1e9 for fs in (16000, 48000))
        lines.append(f"| {ckpt} | {', '.join(users)} | {params:,} | {g16:.2f} | {g48:.2f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=DEFAULT_CASES)
    ap.add_argument("--only", help="comma-separated systems/peers (default: every system and every peer)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=3,
                    help="timed calls per case up to 60 s of audio, median reported (longer inputs: one call)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "speed.md"))
    ap.add_argument("--child", nargs=4, metavar=("KIND", "NAME", "SRC", "DST"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child, device=args.device, repeat=args.repeat)
        return
    from gapse_core.peers import PEERS
    from gapse_core.systems import SYSTEMS

    todo = todo_all = [("system", s) for s in SYSTEMS] + [("peer", p) for p in PEERS if p != "noisy"]
    keep: set[str] = set()
    if args.only:
        keep = set(args.only.split(","))
        todo = [t for t in todo if t[1] in keep]
    rows = []
    for kind, name in todo:
        for case in args.cases.split(","):
            sec, fs = case.split("@")
            seconds = float(sec.rstrip("s"))
            r = run_case(kind, name, seconds, int(fs), args.device, args.repeat if seconds <= 60 else 1)
            rows.append(r)
            print(f"{name}: {r['seconds']:.0f} s at {r['fs']} Hz: enhance {r['enhance']:.2f} s (RTF {r['rtf']:.3f}), "
                  f"whole process {r['wall']:.1f} s, peak RSS {r['peak_mb']:.0f} MB", flush=True)
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
               f"{torch.get_num_threads()} threads" if args.device == "cpu" else torch.cuda.get_device_name())
    lines = ["# Speed and memory: every gapse system and every peer", "",
             f"Measured {dt.date.today().isoformat()} on {machine}; device `{args.device}` (peers always run on "
             "the CPU). Command: `python benchmarks/speed.py`."
             + (f" This run re-measured `--only {args.only} --cases {args.cases}`; the other rows are kept from "
                "earlier runs of the same script." if args.only else ""), "",
             "RTF = time of the enhancement call / audio duration (below 1 is faster than real time; gapse systems "
             f"after a 1 s warm-up call; the median of {args.repeat} calls for inputs up to 60 s, one call for "
             "longer ones). Peak RSS is "
             "the whole process (Python, imports, the input and output signals included). Input: generated noise "
             "with a speech-like envelope.", "",
             "| enhancer | input | enhance (s) | RTF | whole process (s) | peak RSS (MB) |",
             "|---|---|---:|---:|---:|---:|"]
    fresh = [f"| {r['name']} | {r['seconds']:.0f} s @ {r['fs']} Hz | {r['enhance']:.2f} | {r['rtf']:.3f} | "
             f"{r['wall']:.1f} | {r['peak_mb']:.0f} |" for r in rows]
    if args.only and Path(args.out).exists():  # keep every row not re-measured now
        order = [name for _, name in todo_all]

        def cells(ln: str) -> list[str]:  # a table row's (enhancer, input)
            return [c.strip() for c in ln.split("|")[1:3]]

        measured = {tuple(cells(ln)) for ln in fresh}
        kept = [ln for ln in Path(args.out).read_text().splitlines()
                if ln.startswith("| ") and cells(ln)[0] in order and tuple(cells(ln)) not in measured]

        def key(ln: str) -> tuple[int, float, int]:
            name, case = cells(ln)
            sec, fs = case.removesuffix(" Hz").split(" s @ ")
            return order.index(name), float(sec), int(fs)

        fresh = sorted(kept + fresh, key=key)
    lines += fresh
    lines += ["", "## Model sizes", "", "MACs counted by `benchmarks/model_size.py` (convolutions, linear layers, "
              "attention and LSTMs). Peers: DeepFilterNet3 has about 2.1 M parameters (its paper), RNNoise about "
              "88 k (its paper); neither is counted here.", ""] + model_rows()
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
