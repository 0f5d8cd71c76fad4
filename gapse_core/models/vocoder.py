"""GAP-URGENet's Vocoder: SSL acoustic representations (50 Hz) -> 16 kHz waveform (Vocos).

Trained alone on clean speech (the frozen SSL teacher's acoustic representations of clean
speech in, that speech out) and used without fine-tuning behind the adapter. The network is
the shared Vocos backbone and iSTFT head: ``n_fft = 4 x hop`` and ``hop = 320`` samples, the
SSL frame step, so one feature frame becomes one hop of samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..nn.vocos import ISTFTHead, VocosBackbone, VocosConfig
from .ssl import CENTRED_OFFSET, FRAME_HOP


@dataclass
class VocoderConfig:
    """Paper (GAP-URGENet): dim 1024, intermediate 3072, 12 blocks, n_fft 1280, hop 320."""

    backbone: VocosConfig = field(default_factory=lambda: VocosConfig(input_dim=96, dim=192, intermediate_dim=576,
                                                                      n_layers=6))
    n_fft: int = 4 * FRAME_HOP
    hop: int = FRAME_HOP


class Vocoder(nn.Module):
    """``features [B, T, D]`` (D = ``backbone.input_dim``) -> waveform ``[B, T * hop]``."""

    config_class = VocoderConfig

    def __init__(self, cfg: VocoderConfig) -> None:
        super().__init__()
        if cfg.hop != FRAME_HOP:
            raise ValueError(f"the vocoder's hop must be the SSL frame step ({FRAME_HOP} samples at 16 kHz)")
        self.cfg = cfg
        self.backbone = VocosBackbone(cfg.backbone)
        self.head = ISTFTHead(cfg.backbone.dim, cfg.n_fft, cfg.hop)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``[B, T, D] -> [B, T * hop]``."""
        return self.head(self.backbone(features.transpose(1, 2)))

    def synthesize(self, features: torch.Tensor, n: int) -> torch.Tensor:
        """Features of :meth:`SSLEncoder.centred` for an ``n``-sample input -> ``[B, n]`` aligned with it."""
        return self(features)[:, CENTRED_OFFSET: CENTRED_OFFSET + n]
