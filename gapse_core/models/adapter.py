"""GAP-URGENet's Adapter: enhanced phonetic + noisy acoustic representations -> enhanced acoustic.

DeWavLM-Omni's last layer (phonetic, ``R_P``) is clean but abstract; its first layer
(acoustic, ``R_A0``) is detailed but still noisy. The adapter projects ``R_P``, adds ``R_A0``
(conditioning by element-wise addition), and runs the Vocos backbone without its iSTFT head;
a linear layer maps back to the feature size, layer-normed like the teacher's acoustic
representations the vocoder was trained on. Trained with MSE to the teacher's acoustic
representations of the clean speech + a feature-domain adversarial and feature-matching loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.vocos import VocosBackbone, VocosConfig


@dataclass
class AdapterConfig:
    """Paper: dim 1024, intermediate 3072, 12 blocks; ``input_dim`` = the SSL feature size."""

    backbone: VocosConfig = field(default_factory=lambda: VocosConfig(input_dim=96, dim=192, intermediate_dim=576,
                                                                      n_layers=4))


class Adapter(nn.Module):
    """``(phonetic [B, T, D], acoustic [B, T, D]) -> enhanced acoustic [B, T, D]`` (layer-normed)."""

    config_class = AdapterConfig

    def __init__(self, cfg: AdapterConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.backbone.input_dim
        self.proj = nn.Linear(d, d)
        self.backbone = VocosBackbone(cfg.backbone)
        self.out = nn.Linear(cfg.backbone.dim, d)

    def forward(self, phonetic: torch.Tensor, acoustic: torch.Tensor) -> torch.Tensor:
        h = self.proj(phonetic) + acoustic  # [B, T, D]
        y = self.out(self.backbone(h.transpose(1, 2)))
        return F.layer_norm(y, (y.shape[-1],))
