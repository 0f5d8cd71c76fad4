"""A train state small enough to move between machines, so a GAN stage can go on in another session.

A GAN stage's ``last.pt`` holds the generator, its AdamW moments, the discriminators and
*their* moments: with HiFi-GAN-sized discriminators (``channels=32, max_channels=512``, 15.2 M
parameters) about 190 MB, far over what a lent GPU machine can take in or give back (its carried
folders share 64 MiB, each returned file at most 16 MB). ``slim`` keeps what a resumed run
cannot relearn quickly and drops the rest:

- the discriminators' weights, cast to bfloat16 (half the bytes; the trainer casts them back
  to float32 on load);
- the discriminators' AdamW moments are dropped: the resumed run starts them afresh (Adam's
  first updates are then full-size steps of ``lr``, a disturbance of a few hundred steps);
- with ``drop_optimizer``, the generator's moments too (its weights and the step, so the
  learning-rate schedule, stay exact).

The trainer resumes from such a state as from a full one and says which moments start afresh.
Files bigger than the per-file limit still travel in parts: ``split -b 15M -d FILE FILE.part``
on one side, ``cat FILE.part* > FILE`` on the other.

    python -m gapse_core.train.portable runs/voc/last.pt /tmp/out/last.pt [--drop-optimizer]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from ..checkpoints import atomic_save

SLIM_DTYPE = torch.bfloat16


def _half(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.to(SLIM_DTYPE) if v.is_floating_point() else v for k, v in tensors.items()}


def slim(state: dict[str, Any], drop_optimizer: bool = False) -> dict[str, Any]:
    """A trainer ``last.pt`` dict -> a smaller one the trainer still resumes from (see the module docstring)."""
    out = {k: v for k, v in state.items() if k != "discriminator_optimizer"}
    if "discriminator" in out:
        out["discriminator"] = _half(out["discriminator"])
    if drop_optimizer:
        out.pop("optimizer", None)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("state", type=Path, help="a trainer's last.pt")
    ap.add_argument("out", type=Path, help="where the slim state goes (never the input itself)")
    ap.add_argument("--drop-optimizer", action="store_true", help="drop the generator's AdamW moments too")
    args = ap.parse_args(argv)
    if args.out.resolve() == args.state.resolve():
        ap.error("OUT must differ from STATE: the full state is kept")
    try:
        state = torch.load(args.state, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as err:
        ap.error(f"{args.state}: not a readable train state ({err})")
    if not isinstance(state, dict) or "model" not in state or "step" not in state:
        ap.error(f"{args.state}: not a trainer's last.pt (no 'model' and 'step')")
    small = slim(state, args.drop_optimizer)
    atomic_save(small, args.out)
    print(f"{args.state} ({args.state.stat().st_size / 2**20:.1f} MiB, step {state['step']}) -> "
          f"{args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
