"""Batches of simulated (noisy, clean) pairs for the enhancement stages, made on the fly.

A batch shares one sampling rate (drawn per batch from ``rates`` with ``rate_weights``); its
segment length is ``seconds`` scaled by 16 kHz / rate (capped) so every batch costs about the
same. Worker streams are seeded from (seed, rank, start step, worker), so a resumed run is
deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..data.corpus import load_corpus
from ..data.mixer import Mixer, MixtureConfig


@dataclass
class DataConfig:
    path: str = "../shared/data"
    rates: tuple[int, ...] = (8000, 16000, 24000, 48000)
    rate_weights: tuple[float, ...] = (0.2, 0.5, 0.15, 0.15)
    seconds: float = 2.0  # segment length at 16 kHz
    batch_size: int = 4
    max_speech: int = 0  # 0: all utterances
    mixture: MixtureConfig = field(default_factory=MixtureConfig)
    val_examples: int = 24
    val_seconds: float = 4.0
    val_rate: int = 16000


def segment_seconds(cfg: DataConfig, fs: int) -> float:
    return cfg.seconds * min(2.0, max(1 / 3, 16000 / fs)) if fs != 16000 else cfg.seconds


class MixtureBatches(IterableDataset):
    """Infinite stream of ``(noisy [B, n], clean [B, n], fs)`` batches."""

    def __init__(self, cfg: DataConfig, seed: int, rank: int, start_step: int) -> None:
        self.cfg, self.seed, self.rank, self.start = cfg, seed, rank, start_step
        self._mixer: Mixer | None = None

    def mixer(self) -> Mixer:
        if self._mixer is None:
            corpus = load_corpus(self.cfg.path, "train", max_speech=self.cfg.max_speech or None)
            self._mixer = Mixer(corpus, self.cfg.mixture, rir_seed=1)
        return self._mixer

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
        info = get_worker_info()
        wid = info.id if info else 0
        rng = np.random.default_rng([self.seed, self.rank, self.start, wid])
        mixer = self.mixer()
        w = np.asarray(self.cfg.rate_weights, dtype=float)
        while True:
            fs = int(rng.choice(self.cfg.rates, p=w / w.sum()))
            secs = segment_seconds(self.cfg, fs)
            ex = [mixer.example(rng, fs, secs) for _ in range(self.cfg.batch_size)]
            noisy = torch.from_numpy(np.stack([e["noisy"] for e in ex]))
            clean = torch.from_numpy(np.stack([e["clean"] for e in ex]))
            yield noisy, clean, fs


class _WorkerBatches(IterableDataset):
    """The endless batch iterator ``make(worker_id)``, built inside each data worker."""

    def __init__(self, make: Callable[[int], Iterator]) -> None:
        self.make = make

    def __iter__(self) -> Iterator:
        info = get_worker_info()
        return iter(self.make(info.id if info else 0))


def _stream(batches: IterableDataset, num_workers: int) -> Iterator:
    """Already-batched items of ``batches`` from ``num_workers`` processes in turn (0: made in this one)."""
    loader = DataLoader(batches, batch_size=None, num_workers=num_workers,
                        prefetch_factor=4 if num_workers else None, persistent_workers=bool(num_workers))
    return iter(loader)


def worker_stream(make: Callable[[int], Iterator], num_workers: int) -> Iterator:
    """Batches of ``make(worker)`` from ``num_workers`` data processes; ``make`` must seed its own
    generator from the worker id so the streams differ."""
    return _stream(_WorkerBatches(make), num_workers)


def batch_stream(cfg: DataConfig, seed: int, rank: int, start_step: int, num_workers: int) -> Iterator:
    return _stream(MixtureBatches(cfg, seed, rank, start_step), num_workers)


def validation_set(cfg: DataConfig, seed: int = 1234) -> list[dict]:
    """A fixed list of held-out-speaker examples (every distortion type) for periodic validation."""
    corpus = load_corpus(cfg.path, "val")
    mixer = Mixer(corpus, cfg.mixture, rir_seed=2)
    rng = np.random.default_rng(seed)
    return [mixer.example(rng, cfg.val_rate, cfg.val_seconds) for _ in range(cfg.val_examples)]
