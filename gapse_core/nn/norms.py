"""Normalisations without a frequency dimension (so models stay sampling-frequency independent)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class HeadLayerNorm(nn.Module):
    """LayerNorm over the last axis of ``[..., H, E]`` with a separate affine per head."""

    def __init__(self, heads: int, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(heads, dim))
        self.bias = nn.Parameter(torch.zeros(heads, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., H, E] -> [..., H, E]``, normalised over E."""
        return F.layer_norm(x, x.shape[-1:], eps=self.eps) * self.weight + self.bias
