"""Conformer block (Gulati et al., 2020), shared by the token predictors.

Half-step feed-forward -> multi-head self-attention -> convolution module (pointwise conv +
GLU, depthwise conv, batch-free LayerNorm, SiLU, pointwise conv) -> half-step feed-forward ->
LayerNorm, each with a residual, on ``[B, T, D]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ConformerConfig:
    dim: int = 128
    heads: int = 4
    ff_mult: int = 2
    kernel_size: int = 15
    n_layers: int = 1
    dropout: float = 0.0


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, mult: int, dropout: float) -> None:
        super().__init__(nn.LayerNorm(dim), nn.Linear(dim, dim * mult), nn.SiLU(), nn.Dropout(dropout),
                         nn.Linear(dim * mult, dim), nn.Dropout(dropout))


class ConvModule(nn.Module):
    def __init__(self, dim: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.pw1 = nn.Conv1d(dim, 2 * dim, 1)
        self.dw = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.mid_norm = nn.LayerNorm(dim)
        self.pw2 = nn.Conv1d(dim, dim, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, D] -> [B, T, D]`` (the residual branch only)."""
        h = nn.functional.glu(self.pw1(self.norm(x).transpose(1, 2)), dim=1)
        h = self.dw(h)
        h = nn.functional.silu(self.mid_norm(h.transpose(1, 2))).transpose(1, 2)
        return self.drop(self.pw2(h).transpose(1, 2))


class ConformerBlock(nn.Module):
    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        self.ff1 = FeedForward(cfg.dim, cfg.ff_mult, cfg.dropout)
        self.attn_norm = nn.LayerNorm(cfg.dim)
        self.attn = nn.MultiheadAttention(cfg.dim, cfg.heads, dropout=cfg.dropout, batch_first=True)
        self.conv = ConvModule(cfg.dim, cfg.kernel_size, cfg.dropout)
        self.ff2 = FeedForward(cfg.dim, cfg.ff_mult, cfg.dropout)
        self.out_norm = nn.LayerNorm(cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, D] -> [B, T, D]``."""
        x = x + 0.5 * self.ff1(x)
        h = self.attn_norm(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        x = x + self.conv(x)
        x = x + 0.5 * self.ff2(x)
        return self.out_norm(x)


class Conformer(nn.Sequential):
    """``n_layers`` Conformer blocks on ``[B, T, D]``."""

    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__(*(ConformerBlock(cfg) for _ in range(cfg.n_layers)))
