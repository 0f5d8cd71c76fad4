"""Frozen-branch outputs (and their DNSMOS scores) on simulated examples, made once and stored.

The fusion network learns from what the *frozen* branches make of a degraded clip, and the
learned quality predictor learns to imitate DNSMOS on clean, degraded and enhanced speech.
Running three branch networks and DNSMOS (about 0.2 s of CPU per clip) inside every training
step would cost far more than the small networks being trained, so both stages read a cache:

``DIR/SPLIT-KEY/chunk-00000.npz`` ... each with, for ``k`` examples of ``seconds`` at 16 kHz,

- ``noisy``, ``clean`` and one array per system in ``systems`` (that system's final output),
  each ``[k, n]`` float16;
- ``dnsmos [k, S, 3]`` float32: (OVRL, SIG, BAK) of each of the ``S`` signals, in the order
  ``("noisy", "clean", *systems)``;
- ``distortions [k]``: what the simulation did (``"none"``, ``"codec+clipping"``, ...).

Example ``i`` of a split is drawn from its own generator ``(seed, split, i)``, so chunks can be
made by any number of processes in any order, and a killed build resumes where it stopped.
``KEY`` hashes the settings, the branch checkpoints' bytes and ``systems.ENHANCER_VERSION``:
retraining a branch, or changing how the ``Enhancer`` runs it, makes a new cache instead of
silently reusing stale outputs.

The default 4.6 s makes DNSMOS run its 9.01 s model exactly once (it tiles short clips by
doubling them: 4.6 s -> 9.2 s), so the cached score is the same number ``gapse eval`` prints.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.mixer import MixtureConfig

RATE = 16000
SPLITS = {"train": 0, "val": 1}


@dataclass
class BranchCacheConfig:
    path: str = "../shared/data"  # the corpus (train split for training, val for validation)
    dir: str = "out/cache/branches"
    systems: tuple[str, ...] = ("predictive", "paragse", "gap-generative")
    train_examples: int = 800
    val_examples: int = 100
    seconds: float = 4.6
    seed: int = 0
    chunk: int = 20  # examples per file
    workers: int = 1  # processes that make chunks side by side
    dnsmos: bool = True
    mixture: MixtureConfig = field(default_factory=MixtureConfig)


def signal_names(cfg: BranchCacheConfig) -> tuple[str, ...]:
    return ("noisy", "clean", *cfg.systems)


def cache_key(cfg: BranchCacheConfig) -> str:
    """Hash of everything the cached numbers depend on (settings, branch weights, the Enhancer's version)."""
    from ..checkpoints import resolve
    from ..config import to_dict
    from ..systems import ENHANCER_VERSION, SYSTEMS

    h = hashlib.sha1()
    settings = {k: v for k, v in to_dict(cfg).items() if k not in ("dir", "workers", "train_examples", "val_examples")}
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update(f"enhancer {ENHANCER_VERSION}".encode())
    for system in cfg.systems:
        for name in sorted(SYSTEMS[system].checkpoints.values()):
            h.update(resolve(name).read_bytes())
    return h.hexdigest()[:10]


def split_dir(cfg: BranchCacheConfig, split: str) -> Path:
    return Path(cfg.dir) / f"{split}-{cache_key(cfg)}"


def _n_examples(cfg: BranchCacheConfig, split: str) -> int:
    return cfg.train_examples if split == "train" else cfg.val_examples


class _ChunkMaker:
    """Makes chunk files; holds the mixer and the systems' enhancers (one per process)."""

    def __init__(self, cfg: BranchCacheConfig, split: str, device: str = "auto") -> None:
        import torch

        from ..data.corpus import load_corpus
        from ..data.mixer import Mixer
        from ..systems import Enhancer

        if cfg.workers > 1:
            torch.set_num_threads(1)
        self.cfg, self.split = cfg, split
        self.mixer = Mixer(load_corpus(cfg.path, split), cfg.mixture, rir_seed=1 if split == "train" else 2)
        self.enhancers = {s: Enhancer(s, device=device) for s in cfg.systems}

    def make(self, index: int, out: Path) -> None:
        from .. import metrics

        cfg = self.cfg
        lo, hi = index * cfg.chunk, min((index + 1) * cfg.chunk, _n_examples(cfg, self.split))
        signals: dict[str, list[np.ndarray]] = {name: [] for name in signal_names(cfg)}
        scores, distortions = [], []
        for i in range(lo, hi):
            rng = np.random.default_rng([cfg.seed, SPLITS[self.split], i])
            ex = self.mixer.example(rng, RATE, cfg.seconds)
            waves = {"noisy": ex["noisy"], "clean": ex["clean"]}
            for system, enhancer in self.enhancers.items():
                waves[system] = enhancer.enhance(ex["noisy"], RATE).final
            row = []
            for name in signal_names(cfg):
                signals[name].append(waves[name].astype(np.float16))
                if cfg.dnsmos:
                    s = metrics.dnsmos(waves[name], RATE)
                    row.append([s["ovrl"], s["sig"], s["bak"]])
            scores.append(row)
            p = ex["params"]
            distortions.append(("reverb+" if "rir" in p else "") + p["distortions"])
        arrays = {name: np.stack(v) for name, v in signals.items()}
        if cfg.dnsmos:
            arrays["dnsmos"] = np.asarray(scores, dtype=np.float32)
        tmp = out.with_suffix(".tmp.npz")
        np.savez(tmp, distortions=np.asarray(distortions), **arrays)
        os.replace(tmp, out)


_MAKER: _ChunkMaker | None = None


def _worker_init(cfg: BranchCacheConfig, split: str) -> None:
    global _MAKER
    _MAKER = _ChunkMaker(cfg, split, device="cpu")


def _worker_make(job: tuple[int, str]) -> int:
    _MAKER.make(job[0], Path(job[1]))
    return job[0]


def _n_chunks(cfg: BranchCacheConfig, split: str) -> int:
    return -(-_n_examples(cfg, split) // cfg.chunk)


def missing_chunks(cfg: BranchCacheConfig, split: str) -> list[tuple[int, str]]:
    """``(index, path)`` of each chunk of the split not yet on disk."""
    folder = split_dir(cfg, split)
    return [(i, str(folder / f"chunk-{i:05d}.npz")) for i in range(_n_chunks(cfg, split))
            if not (folder / f"chunk-{i:05d}.npz").exists()]


def build(cfg: BranchCacheConfig, split: str, progress: bool = True) -> Path:
    """Make the split's missing chunks (with ``cfg.workers`` processes); returns the split's folder."""
    folder = split_dir(cfg, split)
    todo = missing_chunks(cfg, split)
    if not todo:
        return folder
    from ..data.corpus import check_corpus

    check_corpus(cfg.path)  # in one line here; from a worker process it would come wrapped in a traceback
    folder.mkdir(parents=True, exist_ok=True)
    if progress:
        print(f"branch cache: making {len(todo)} of {_n_chunks(cfg, split)} chunks of {split} examples in {folder}", flush=True)
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc=f"cache {split}", disable=not progress, dynamic_ncols=True)
    if cfg.workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(cfg.workers, _worker_init, (cfg, split)) as pool:
            for _ in pool.imap_unordered(_worker_make, todo):
                bar.update(1)
    else:
        maker = _ChunkMaker(cfg, split)
        for i, path in todo:
            maker.make(i, Path(path))
            bar.update(1)
    bar.close()
    return folder


def load(cfg: BranchCacheConfig, split: str, build_missing: bool = True) -> dict[str, np.ndarray]:
    """The whole split in memory: ``{signal: [N, n] float16, "dnsmos": [N, S, 3], "distortions": [N]}``."""
    folder = build(cfg, split) if build_missing else split_dir(cfg, split)
    files = sorted(folder.glob("chunk-*.npz"))
    if not files:
        raise FileNotFoundError(f"no cached branch outputs in {folder}")
    parts = [dict(np.load(f)) for f in files]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def main(argv: list[str] | None = None) -> None:
    """``python -m gapse_core.train.branch_cache CONFIG.yaml [--split train|val|both]``: build ahead of training."""
    import argparse

    import yaml

    from ..config import from_dict

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("config", help="a stage config whose 'cache' section is used")
    ap.add_argument("--split", choices=["train", "val", "both"], default="both")
    ap.add_argument("--workers", type=int, default=0, help="override cache.workers")
    args = ap.parse_args(argv)
    with open(args.config, encoding="utf-8") as fh:
        data = (yaml.safe_load(fh) or {}).get("cache", {})
    cfg = from_dict(BranchCacheConfig, data, where=f"{args.config}: cache")
    if args.workers:
        cfg.workers = args.workers
    for split in (["train", "val"] if args.split == "both" else [args.split]):
        print(build(cfg, split))


if __name__ == "__main__":
    main()
