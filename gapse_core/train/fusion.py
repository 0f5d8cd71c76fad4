"""Training stage ``fusion``: the mask-fusion network over two frozen branches (hybrid paper, Eq. 4).

Data: the branch cache (``train/branch_cache.py``) holds, for every simulated example, the
noisy input, the clean target and the frozen branches' outputs; ``predictive`` and
``generative`` name which of the cached systems are fused (``generative: paragse`` gives the
``paragse-fusion`` system, ``generative: gap-generative`` the ``gap-fusion`` one).

Loss (hybrid paper, Eq. 4):  L = L_MR-STFT + 0.5 L_L1 + w_sqa L_SQA, with the signal terms on
waveforms normalised by the noisy input's level and ``L_SQA = -OVRL`` as the frozen learned
quality predictor (``models/quality.py``) hears the fused output. The paper's SQA model
predicts five metrics; ours imitates DNSMOS.

Data and validation are ``train/branch_pair.py``'s (PESQ-WB, DNSMOS OVRL and LSD of the fused
output beside each branch's; ``score`` = PESQ + OVRL), plus the mean mask below 8 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..losses import multi_resolution_stft_loss
from ..models.mask_fusion import MaskFusion, MaskFusionConfig
from .branch_cache import RATE, BranchCacheConfig
from .branch_pair import BranchPairDataConfig, BranchPairStage
from .quality import SQATerm
from .trainer import OptimConfig, TrainerConfig


@dataclass
class FusionLossConfig:
    w_mrstft: float = 1.0
    w_logmag: float = 1.0  # weight of the MR-STFT loss's log-magnitude half (1: the paper's loss)
    w_l1: float = 0.5
    w_sqa: float = 0.1  # 0 turns the learned-quality term off
    quality: str = "quality-small"  # the frozen SQA model (shipped name or file)


@dataclass
class FusionStageConfig:
    model: MaskFusionConfig = field(default_factory=MaskFusionConfig)
    cache: BranchCacheConfig = field(default_factory=BranchCacheConfig)
    data: BranchPairDataConfig = field(default_factory=BranchPairDataConfig)
    loss: FusionLossConfig = field(default_factory=FusionLossConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3, warmup_steps=100))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


class FusionStage(BranchPairStage):
    kind = "fusion"
    model_kind = "mask_fusion"
    config_class = FusionStageConfig

    def __init__(self, cfg: FusionStageConfig) -> None:
        self.cfg = cfg
        self.check_branches()
        self.sqa = SQATerm(cfg.loss.quality)

    def build_model(self) -> nn.Module:
        return MaskFusion(self.cfg.model)

    def loss(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        noisy, clean, pred, gen = (x.to(device) for x in batch)
        fused, mask = model(noisy, pred, gen, RATE)
        scale = noisy.std(-1, keepdim=True).clamp_min(1e-5)
        lc = self.cfg.loss
        l_stft = multi_resolution_stft_loss(fused / scale, clean / scale, log_weight=lc.w_logmag)
        l_l1 = (fused - clean).abs().mean() / scale.mean()
        loss = lc.w_mrstft * l_stft + lc.w_l1 * l_l1
        logs = {"mrstft": l_stft.item(), "l1": l_l1.item(), "mask": mask.mean().item()}
        if lc.w_sqa:
            term, logs["sqa_ovrl"] = self.sqa(fused, lc.w_sqa)
            loss = loss + term
        return loss, logs

    def combine(self, model: nn.Module, noisy: np.ndarray, pred: np.ndarray, gen: np.ndarray,
                device: torch.device) -> tuple[np.ndarray, dict[str, float]]:
        args = [torch.from_numpy(a)[None].to(device) for a in (noisy, pred, gen)]
        fused, mask = model(*args, RATE)
        return fused[0].float().cpu().numpy(), {"mask": float(mask[0, : model.low_bins(RATE)].mean())}
