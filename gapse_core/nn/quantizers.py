"""Vector quantizers of the codec branches: group VQ (ParaGSE) and residual VQ (X-Codec).

Both wrap ``vector-quantize-pytorch`` (EMA codebooks, straight-through gradients) behind one
interface, so the codec, the token predictors and the notebooks never care which is used:

* **group VQ**: the latent ``[B, T, D]`` is split into ``streams`` groups of ``D / streams``
  dimensions, each quantized by its own codebook. The groups are independent, which is what
  lets ParaGSE predict all of them in one parallel pass.
* **residual VQ**: ``streams`` codebooks in series, each quantizing what the previous ones
  left; the first layer carries the most (the hybrid system predicts only its tokens).

``codes [B, T, streams]`` (int64) is the token view in both cases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class QuantizerConfig:
    """ParaGSE: ``group``, dim 32, 4 streams x 256 codes, cosine (L2-normalised) codebooks."""

    kind: str = "group"  # "group" | "residual"
    dim: int = 32
    streams: int = 4  # groups (group VQ) or layers (residual VQ)
    codebook_size: int = 256
    codebook_dim: int = 0  # > 0: factorised codes (project each group/layer down to this many dims)
    cosine: bool = True
    commitment: float = 0.25
    decay: float = 0.99


@dataclass
class Quantized:
    quantized: torch.Tensor  # [B, T, D]
    codes: torch.Tensor  # [B, T, streams] int64
    commit_loss: torch.Tensor  # scalar


class Quantizer(nn.Module):
    """``z [B, T, D]`` -> :class:`Quantized`; ``decode(codes) -> [B, T, D]``."""

    def __init__(self, cfg: QuantizerConfig) -> None:
        super().__init__()
        from vector_quantize_pytorch import GroupedResidualVQ, ResidualVQ

        if cfg.kind not in ("group", "residual"):
            raise ValueError(f"quantizer kind must be 'group' or 'residual', got {cfg.kind!r}")
        if cfg.kind == "group" and cfg.dim % cfg.streams:
            raise ValueError(f"group VQ: dim {cfg.dim} is not divisible into {cfg.streams} groups")
        self.cfg = cfg
        extra = {"codebook_dim": cfg.codebook_dim} if cfg.codebook_dim else {}
        common = dict(codebook_size=cfg.codebook_size, use_cosine_sim=cfg.cosine, commitment_weight=cfg.commitment,
                      decay=cfg.decay, **extra)
        if cfg.kind == "group":
            self.vq = GroupedResidualVQ(dim=cfg.dim, groups=cfg.streams, num_quantizers=1, **common)
        else:
            self.vq = ResidualVQ(dim=cfg.dim, num_quantizers=cfg.streams, **common)

    def bitrate(self, frame_rate: float) -> float:
        """Bits per second at ``frame_rate`` frames per second."""
        return self.cfg.streams * math.log2(self.cfg.codebook_size) * frame_rate

    def forward(self, z: torch.Tensor) -> Quantized:
        q, idx, commit = self.vq(z)
        codes = idx[..., 0].permute(1, 2, 0) if self.cfg.kind == "group" else idx  # [B, T, streams]
        return Quantized(q, codes, commit.sum())

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """``codes [B, T, streams]`` -> quantized latent ``[B, T, D]``."""
        if self.cfg.kind == "group":
            return self.vq.get_output_from_indices(codes.permute(2, 0, 1)[..., None])
        return self.vq.get_output_from_indices(codes)
