"""Peak memory and time of ``gapse enhance`` on long recordings: block by block against in one call.

Each case writes a generated input file (noise with a speech-like envelope, 16-bit, as
``benchmarks/speed.py`` makes them) and enhances it in a fresh process, with every branch saved:

- ``blocks``: the command users run, ``gapse enhance FILE -o DIR --save-branches --system S``
  (``gapse_core.streaming``: blocks of ``BLOCK_SECONDS``, memory flat in the file's length);
- ``one call``: what ``gapse enhance`` did before it streamed: load the whole file, one
  ``Enhancer.enhance`` call, save every output.

Peak memory is the child process's own ``ru_maxrss`` (``os.wait4``): Python, torch, the models
and every signal included. Time is the child's wall time, model loading included.

    python benchmarks/long_file.py [--cases 600s@48000,3600s@192000] [--system gap-urgenet] [--modes blocks,one-call]

Writes ``benchmarks/results/long_file.md`` (date, machine, command).
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

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from speed import make_input

ONE_CALL = """
import sys
from gapse_core.audio.io import load, save
from gapse_core.systems import Enhancer
src, out, system = sys.argv[1:4]
enh = Enhancer(system)
wave, fs = load(src)
r = enh.enhance(wave, fs)
save(f"{out}/final.wav", r.final, fs)
for name, y in r.branches.items():
    save(f"{out}/{name}.wav", y, fs)
"""


def run_child(argv: list[str]) -> tuple[float, float, int]:
    """``(wall seconds, peak RSS in MB, exit code)`` of one child process."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode:
        print(err, file=sys.stderr)
    return time.perf_counter() - t, usage.ru_maxrss / 1024, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="600s@48000,3600s@192000", help="SECONDSs@RATE, comma-separated")
    ap.add_argument("--system", default="gap-urgenet")
    ap.add_argument("--modes", default="blocks,one-call", help="blocks and/or one-call")
    ap.add_argument("--skip", default="", help="CASE:MODE pairs not to run (e.g. 3600s@192000:one-call)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "long_file.md"))
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    rows = []
    with tempfile.TemporaryDirectory(prefix="gapse-long-") as tmp:
        for case in args.cases.split(","):
            seconds, fs = case.split("s@")
            src = Path(tmp) / f"in_{case}.wav"
            make_input(src, float(seconds), int(fs))
            for mode in args.modes.split(","):
                if f"{case}:{mode}" in skip:
                    continue
                out = Path(tmp) / f"out_{case}_{mode}"
                out.mkdir()
                if mode == "blocks":
                    argv = [sys.executable, "-m", "gapse_core.cli", "enhance", str(src), "-o", str(out),
                            "--save-branches", "--system", args.system]
                else:
                    argv = [sys.executable, "-c", ONE_CALL, str(src), str(out), args.system]
                wall, peak, code = run_child(argv)
                row = (f"| {args.system} | {float(seconds) / 60:g} min @ {int(fs)} Hz | {mode} | "
                       f"{f'{wall:.0f}' if code == 0 else f'failed (exit {code})'} | "
                       f"{wall / float(seconds):.3f} | {peak:.0f} |")
                print(row, flush=True)
                rows.append(row)
                for f in out.iterdir():
                    f.unlink()
    head = (f"# Long recordings: `gapse enhance` block by block against one call\n\n"
            f"Measured {dt.date.today()} on {platform.machine()}, {os.cpu_count()} CPU cores, torch "
            f"{torch.__version__}, CPU. Command: `python benchmarks/long_file.py --cases {args.cases} "
            f"--system {args.system} --modes {args.modes}{' --skip ' + args.skip if args.skip else ''}`. "
            "Every branch is saved (`--save-branches`); input: generated 16-bit noise with a speech-like "
            "envelope. Time is the whole child process (model loading and file writing included); "
            "peak RSS is the child's own.\n\n"
            "| system | input | mode | time (s) | time / audio | peak RSS (MB) |\n|---|---|---|---:|---:|---:|\n")
    Path(args.out).write_text(head + "\n".join(rows) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
