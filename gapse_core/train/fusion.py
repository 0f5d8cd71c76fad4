"""Training stage ``fusion``: the mask-fusion network over two frozen branches (hybrid paper, Eq. 4).

Data: the branch cache (``train/branch_cache.py``) holds, for every simulated example, the
noisy input, the clean target and the frozen branches' outputs; ``predictive`` and
``generative`` name which of the cached systems are fused (``generative: paragse`` gives the
``paragse-fusion`` system, ``generative: gap-generative`` the ``gap-fusion`` one).

Loss (hybrid paper, Eq. 4):  L = L_MR-STFT + 0.5 L_L1 + w_sqa L_SQA, with the signal terms on
waveforms normalised by the noisy input's level and ``L_SQA = -OVRL`` as the frozen learned
quality predictor (``models/quality.py``) hears the fused output. The paper's SQA model
predicts five metrics; ours imitates DNSMOS.

Validation on the cache's held-out-speaker split: PESQ-WB and DNSMOS OVRL of the fused output
beside those of each branch alone (what fusion must beat), and the mean mask;
``score`` = PESQ + OVRL of the fused output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from .. import metrics
from ..losses import multi_resolution_stft_loss
from ..models.mask_fusion import MaskFusion, MaskFusionConfig
from .branch_cache import RATE, BranchCacheConfig, load, signal_names
from .representations import frozen
from .trainer import OptimConfig, TrainerConfig


@dataclass
class FusionLossConfig:
    w_mrstft: float = 1.0
    w_l1: float = 0.5
    w_sqa: float = 0.1  # 0 turns the learned-quality term off
    quality: str = "quality-small"  # the frozen SQA model (shipped name or file)


@dataclass
class FusionDataConfig:
    predictive: str = "predictive"  # cached system whose output is the predictive branch
    generative: str = "paragse"  # cached system whose output is the generative branch
    batch_size: int = 4
    seconds: float = 0.0  # random crop of each cached clip; 0: the whole clip
    val_examples: int = 48


@dataclass
class FusionStageConfig:
    model: MaskFusionConfig = field(default_factory=MaskFusionConfig)
    cache: BranchCacheConfig = field(default_factory=BranchCacheConfig)
    data: FusionDataConfig = field(default_factory=FusionDataConfig)
    loss: FusionLossConfig = field(default_factory=FusionLossConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3, warmup_steps=100))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


class FusionStage:
    kind = "fusion"
    model_kind = "mask_fusion"
    config_class = FusionStageConfig

    def __init__(self, cfg: FusionStageConfig) -> None:
        for role in ("predictive", "generative"):
            if getattr(cfg.data, role) not in cfg.cache.systems:
                raise ValueError(f"data.{role} {getattr(cfg.data, role)!r} is not among cache.systems {cfg.cache.systems}")
        self.cfg = cfg
        self._quality: nn.Module | None = None
        self._val: dict | None = None

    def build_model(self) -> nn.Module:
        return MaskFusion(self.cfg.model)

    def quality(self, device: torch.device) -> nn.Module:
        if self._quality is None:
            self._quality = frozen(self.cfg.loss.quality, device)
        return self._quality

    def _signals(self, cache: dict[str, np.ndarray]) -> list[np.ndarray]:
        d = self.cfg.data
        return [cache["noisy"], cache["clean"], cache[d.predictive], cache[d.generative]]

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        signals = self._signals(load(self.cfg.cache, "train"))
        rng = np.random.default_rng([seed, rank, start_step, 37])
        n = signals[0].shape[-1]
        crop = min(n, int(self.cfg.data.seconds * RATE)) if self.cfg.data.seconds else n
        while True:
            idx = rng.integers(len(signals[0]), size=self.cfg.data.batch_size)
            starts = rng.integers(n - crop + 1, size=len(idx))
            yield tuple(torch.from_numpy(np.stack([s[i, a:a + crop] for i, a in zip(idx, starts)]).astype(np.float32))
                        for s in signals)

    def loss(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        noisy, clean, pred, gen = (x.to(device) for x in batch)
        fused, mask = model(noisy, pred, gen, RATE)
        scale = noisy.std(-1, keepdim=True).clamp_min(1e-5)
        lc = self.cfg.loss
        l_stft = multi_resolution_stft_loss(fused / scale, clean / scale)
        l_l1 = (fused - clean).abs().mean() / scale.mean()
        loss = lc.w_mrstft * l_stft + lc.w_l1 * l_l1
        logs = {"mrstft": l_stft.item(), "l1": l_l1.item(), "mask": mask.mean().item()}
        if lc.w_sqa:
            ovrl = self.quality(device)(fused)[:, 0].mean()
            loss = loss - lc.w_sqa * ovrl
            logs["sqa_ovrl"] = ovrl.item()
        return loss, logs

    def _branch_scores(self) -> dict:
        cache = load(self.cfg.cache, "val")
        k = min(self.cfg.data.val_examples, len(cache["noisy"]))
        noisy, clean, pred, gen = (s[:k].astype(np.float32) for s in self._signals(cache))
        out = {"noisy": noisy, "clean": clean, "pred": pred, "gen": gen}
        names = signal_names(self.cfg.cache)
        for name, system, waves in (("pred", self.cfg.data.predictive, pred), ("gen", self.cfg.data.generative, gen)):
            out[f"pesq_{name}"] = float(np.nanmean([metrics.pesq_wb(y, c, RATE) for y, c in zip(waves, clean)]))
            if "dnsmos" in cache:  # scored when the cache was made
                out[f"ovrl_{name}"] = float(cache["dnsmos"][:k, names.index(system), 0].mean())
            else:
                out[f"ovrl_{name}"] = float(np.mean([metrics.dnsmos(y, RATE)["ovrl"] for y in waves]))
        return out

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        if self._val is None:
            self._val = self._branch_scores()
        v = self._val
        model.eval()
        pesq, ovrl, masks = [], [], []
        for x, c, p, g in zip(v["noisy"], v["clean"], v["pred"], v["gen"]):
            args = [torch.from_numpy(a)[None].to(device) for a in (x, p, g)]
            fused, mask = model(*args, RATE)
            y = fused[0].float().cpu().numpy()
            pesq.append(metrics.pesq_wb(y, c, RATE))
            ovrl.append(metrics.dnsmos(y, RATE)["ovrl"])
            masks.append(float(mask[0, : model.low_bins(RATE)].mean()))
        model.train()
        out = {"pesq": float(np.nanmean(pesq)), "ovrl": float(np.mean(ovrl)), "mask": float(np.mean(masks))}
        out.update({k: val for k, val in v.items() if k.startswith(("pesq_", "ovrl_"))})
        out["score"] = out["pesq"] + out["ovrl"]
        return out
