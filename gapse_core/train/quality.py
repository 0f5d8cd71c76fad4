"""Training stage ``quality``: the learned quality predictor imitates DNSMOS (the SQA teacher).

Data: the branch cache (``train/branch_cache.py``): for every simulated example the noisy
input, the clean target and each frozen branch's output, each scored once by DNSMOS. A batch
is ``batch_size`` of those clips drawn at random, so the predictor sees the whole range from
badly degraded to clean, and the artefacts of every branch it will later judge.

Branch outputs are the expensive part of that cache (about 5 s of CPU per example; DNSMOS is
0.2 s per clip), so ``data.extra_examples`` > 0 adds a second, cheap cache of that many more
simulated examples with no branch outputs (``extra_cache``: noisy and clean only, drawn with
the next seed so none repeats an example of the first): many more speakers, rooms, noises and
distortions for the degraded and clean end of the scale.

Loss: MSE to DNSMOS's (OVRL, SIG, BAK), OVRL weighted ``w_ovrl`` (it is what the fusion's SQA
term uses). Validation on the cache's held-out-speaker split: Pearson r with DNSMOS per score
and the mean absolute error; ``score`` = r of OVRL.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from ..models.quality import QualityConfig, QualityPredictor
from .branch_cache import BranchCacheConfig, load, signal_names
from .representations import frozen
from .trainer import OptimConfig, TrainerConfig


@dataclass
class QualityDataConfig:
    batch_size: int = 16
    w_ovrl: float = 2.0
    extra_examples: int = 0  # > 0: also train on this many branch-free examples (noisy and clean)


@dataclass
class QualityStageConfig:
    model: QualityConfig = field(default_factory=QualityConfig)
    cache: BranchCacheConfig = field(default_factory=BranchCacheConfig)
    data: QualityDataConfig = field(default_factory=QualityDataConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3, warmup_steps=100))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def scored_clips(cache: dict[str, np.ndarray], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Every cached clip with its DNSMOS scores: ``(waves [N*S, n] float16, scores [N*S, 3])``."""
    waves = np.stack([cache[name] for name in names], axis=1)  # [N, S, n]
    return waves.reshape(-1, waves.shape[-1]), cache["dnsmos"].reshape(-1, 3)


def extra_cache(cfg: QualityStageConfig) -> BranchCacheConfig:
    """The branch-free cache of ``data.extra_examples`` training examples (seed + 1: no repeats)."""
    return replace(cfg.cache, systems=(), seed=cfg.cache.seed + 1, train_examples=cfg.data.extra_examples)


def score_loss(est: torch.Tensor, target: torch.Tensor, w_ovrl: float) -> tuple[torch.Tensor, torch.Tensor]:
    """MSE of predicted scores ``[B, 3]`` to DNSMOS's, OVRL weighted ``w_ovrl``: ``(loss, per-score MSE [3])``."""
    err = (est.float() - target).pow(2).mean(0)
    w = torch.tensor([w_ovrl, 1.0, 1.0], device=err.device)
    return (w * err).sum() / w.sum(), err


class SQATerm:
    """The learned-quality (SQA) loss term of the stages that train against a quality predictor
    (fusion, PostNet, a predictor fine-tune): ``-weight`` x the mean OVRL that the frozen
    ``quality`` model (a shipped name or file, loaded on first use) hears in 16 kHz waves
    ``[B, n]``; a ``critic`` passed in (the predictor's online one) is heard instead."""

    def __init__(self, quality: str) -> None:
        self.quality = quality
        self._model: nn.Module | None = None

    def __call__(self, wave: torch.Tensor, weight: float,
                 critic: nn.Module | None = None) -> tuple[torch.Tensor, float]:
        """``(-weight x OVRL, OVRL)`` for ``wave [B, n]`` at 16 kHz (at the level it will be heard)."""
        if critic is None:
            if self._model is None:
                self._model = frozen(self.quality, wave.device)
            critic = self._model
        ovrl = critic(wave)[:, 0].mean()
        return -weight * ovrl, ovrl.item()


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-12))


@torch.no_grad()
def predict(model: nn.Module, waves: np.ndarray, device: torch.device, batch: int = 32) -> np.ndarray:
    """``waves [N, n]`` -> predicted scores ``[N, 3]``."""
    model.eval()
    out = [model(torch.from_numpy(waves[i:i + batch].astype(np.float32)).to(device)).float().cpu().numpy()
           for i in range(0, len(waves), batch)]
    return np.concatenate(out)


class QualityStage:
    kind = "quality"
    config_class = QualityStageConfig

    def __init__(self, cfg: QualityStageConfig) -> None:
        if not cfg.cache.dnsmos:
            raise ValueError("the quality stage learns DNSMOS scores: cache.dnsmos must be true")
        self.cfg = cfg
        self._val: tuple[np.ndarray, np.ndarray] | None = None

    def build_model(self) -> nn.Module:
        return QualityPredictor(self.cfg.model)

    def training_clips(self) -> tuple[np.ndarray, np.ndarray]:
        """Every training clip and its DNSMOS scores, ``([N, n] float16, [N, 3])`` (builds missing caches)."""
        waves, scores = scored_clips(load(self.cfg.cache, "train"), signal_names(self.cfg.cache))
        if self.cfg.data.extra_examples:
            extra = extra_cache(self.cfg)
            more, more_scores = scored_clips(load(extra, "train"), signal_names(extra))
            waves, scores = np.concatenate([waves, more]), np.concatenate([scores, more_scores])
        return waves, scores

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        waves, scores = self.training_clips()
        rng = np.random.default_rng([seed, rank, start_step, 31])
        while True:
            idx = rng.integers(len(waves), size=self.cfg.data.batch_size)
            yield torch.from_numpy(waves[idx].astype(np.float32)), torch.from_numpy(scores[idx])

    def loss(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        wave, target = (x.to(device) for x in batch)
        loss, err = score_loss(model(wave), target, self.cfg.data.w_ovrl)
        return loss, {"mse_ovrl": err[0].item()}

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        if self._val is None:
            self._val = scored_clips(load(self.cfg.cache, "val"), signal_names(self.cfg.cache))
        waves, scores = self._val
        est = predict(model, waves, device)
        model.train()
        out = {f"r_{k}": pearson(est[:, i], scores[:, i]) for i, k in enumerate(("ovrl", "sig", "bak"))}
        out["mae_ovrl"] = float(np.abs(est[:, 0] - scores[:, 0]).mean())
        out["score"] = out["r_ovrl"]
        return out
