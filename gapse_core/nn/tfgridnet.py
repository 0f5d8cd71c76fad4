"""TF-GridNet (Wang et al., 2023) in its sampling-frequency-independent V3 form.

One block = intra-frame BLSTM over frequency -> inter-frame BLSTM over time -> full-band
multi-head self-attention over frames, each with a residual connection. Neighbouring
``emb_ks`` bins (or frames) are unfolded into one LSTM step with stride ``emb_hs`` and folded
back by a transposed convolution (here: a linear layer + overlap-add). No layer has a size tied
to the number of frequency bins, so one set of weights serves 8 kHz (129 bins) to 48 kHz
(769 bins) input.

Inside the network the layout is channels-last ``[B, T, F, D]``, so LayerNorms and 1x1
projections act on the last axis without copies.

Used by the predictive branch (``models/predictor.py``) and the PostNet (band-split input).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .norms import HeadLayerNorm


@dataclass
class TFGridNetConfig:
    """Sizes of a TF-GridNet.

    Paper sizes: URGENT'25 baseline ``emb_dim=48, emb_ks=4, emb_hs=1, lstm_hidden=200,
    n_layers=6, n_heads=4, attn_dim=2``; GAP-URGENet predictor ``emb_dim=96, lstm_hidden=200,
    n_layers=10, n_heads=8, attn_dim=4``. ``emb_hs == emb_ks`` (no overlap) is 4x cheaper and
    is what the CPU-sized shipped branches use. With disjoint blocks a sigmoid mask draws a
    period-``emb_ks`` comb over frequency: the hybrid's and gap-fusion's masks use ``emb_hs=1``,
    and paragse-fusion's keeps disjoint blocks and smooths its mask (``MaskFusionConfig.smooth_bins``).
    """

    in_channels: int = 2
    out_channels: int = 2
    emb_dim: int = 16
    emb_ks: int = 4
    emb_hs: int = 4
    lstm_hidden: int = 32
    n_layers: int = 2
    n_heads: int = 2
    attn_dim: int = 4
    eps: float = 1e-5


class GridRNN(nn.Module):
    """Residual BLSTM along axis 2 of ``[B, T, L, D]``, ``ks`` neighbours per step, stride ``hs``."""

    def __init__(self, cfg: TFGridNetConfig) -> None:
        super().__init__()
        d, ks, hs = cfg.emb_dim, cfg.emb_ks, cfg.emb_hs
        if hs > ks:
            raise ValueError("emb_hs must not exceed emb_ks")
        self.d, self.ks, self.hs = d, ks, hs
        self.norm = nn.LayerNorm(d, eps=cfg.eps)
        self.rnn = nn.LSTM(d * ks, cfg.lstm_hidden, batch_first=True, bidirectional=True)
        self.fold = nn.Linear(2 * cfg.lstm_hidden, d * ks)  # the ConvTranspose1d's weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, L, D] -> [B, T, L, D]`` with ``(L - ks) % hs == 0``; the RNN runs along L."""
        b, t, length, d = x.shape
        h = self.norm(x).reshape(b * t, length, d)
        if self.ks == self.hs:
            h = h.reshape(b * t, length // self.ks, self.ks * d)  # [N, L', ks*D]
        else:
            h = h.unfold(1, self.ks, self.hs).transpose(2, 3).reshape(b * t, -1, self.ks * d)
        h, _ = self.rnn(h)  # [N, L', 2H]
        h = self.fold(h)  # [N, L', ks*D]
        if self.ks == self.hs:
            h = h.reshape(b, t, length, d)
        else:  # overlap-add the ks-long pieces (col2im)
            h = h.view(b * t, -1, self.ks, d).permute(0, 3, 2, 1).reshape(b * t, d * self.ks, -1)
            h = F.fold(h, (length, 1), (self.ks, 1), stride=(self.hs, 1)).view(b, t, d, length).transpose(2, 3)
        return x + h


class FullBandAttention(nn.Module):
    """Multi-head self-attention over frames; a frame's query/key is all its bins (E*F dims)."""

    def __init__(self, cfg: TFGridNetConfig) -> None:
        super().__init__()
        d, h, e = cfg.emb_dim, cfg.n_heads, cfg.attn_dim
        if d % h:
            raise ValueError(f"emb_dim {d} must be divisible by n_heads {h}")
        self.h, self.e, self.dv = h, e, d // h
        self.qkv = nn.Linear(d, 2 * h * e + d)
        self.q_act, self.k_act, self.v_act = nn.PReLU(), nn.PReLU(), nn.PReLU()
        self.q_norm = HeadLayerNorm(h, e, cfg.eps)
        self.k_norm = HeadLayerNorm(h, e, cfg.eps)
        self.v_norm = HeadLayerNorm(h, self.dv, cfg.eps)
        self.proj = nn.Sequential(nn.Linear(d, d), nn.PReLU(), nn.LayerNorm(d, eps=cfg.eps))

    def _heads(self, x: torch.Tensor, act: nn.Module, norm: nn.Module) -> torch.Tensor:
        b, t, f, _ = x.shape
        x = norm(act(x).view(b, t, f, self.h, -1))  # [B, T, F, H, dim]
        return x.permute(0, 3, 1, 2, 4).reshape(b, self.h, t, -1)  # [B, H, T, F*dim]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, F, D] -> [B, T, F, D]``."""
        b, t, f, d = x.shape
        q, k, v = self.qkv(x).split([self.h * self.e, self.h * self.e, d], dim=-1)
        q = self._heads(q, self.q_act, self.q_norm)
        k = self._heads(k, self.k_act, self.k_norm)
        v = self._heads(v, self.v_act, self.v_norm)
        o = F.scaled_dot_product_attention(q, k, v)  # [B, H, T, F*dv]; scale 1/sqrt(E*F)
        o = o.view(b, self.h, t, f, self.dv).permute(0, 2, 3, 1, 4).reshape(b, t, f, d)
        return x + self.proj(o)


class TFGridNetBlock(nn.Module):
    """Intra-frame (frequency) RNN -> inter-frame (time) RNN -> full-band self-attention."""

    def __init__(self, cfg: TFGridNetConfig) -> None:
        super().__init__()
        self.ks, self.hs = cfg.emb_ks, cfg.emb_hs
        self.intra = GridRNN(cfg)
        self.inter = GridRNN(cfg)
        self.attn = FullBandAttention(cfg)

    def _pad_len(self, n: int) -> int:
        return math.ceil(max(n - self.ks, 0) / self.hs) * self.hs + self.ks - n

    @torch.no_grad()
    def make_identity_(self) -> "TFGridNetBlock":
        """Zero the last layer of each residual branch, so the block passes its input unchanged.

        The fold layers' weights and the attention's closing LayerNorm start at zero; their
        gradients do not, so a block added this way learns from the first step on.
        """
        for layer in (self.intra.fold, self.inter.fold, self.attn.proj[-1]):
            layer.weight.zero_()
            layer.bias.zero_()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, F, D] -> [B, T, F, D]``."""
        _, t, f, _ = x.shape
        x = F.pad(x, (0, 0, 0, self._pad_len(f), 0, self._pad_len(t)))
        x = self.intra(x)  # sequence over frequency
        x = self.inter(x.transpose(1, 2)).transpose(1, 2)  # sequence over time
        return self.attn(x[:, :t, :f])


class TFGridNet(nn.Module):
    """Conv2d embedding -> N TF-GridNet blocks -> ConvTranspose2d back to output channels.

    Input and output are real-valued spectral maps ``[B, C, T, F]`` (e.g. real/imag parts).

    **Growing deeper.** A state dict with fewer blocks than ``n_layers`` (the first ``k``
    blocks present, the rest absent) loads, strictly, into a deeper net: the missing blocks
    become identities (:meth:`TFGridNetBlock.make_identity_`), so the deeper net computes
    exactly what the shallower one did and training continues from there (Net2Net's
    "deeper" step). Any other mismatch still fails as usual.
    """

    def __init__(self, cfg: TFGridNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Sequential(
            nn.Conv2d(cfg.in_channels, cfg.emb_dim, 3, padding=1), nn.GroupNorm(1, cfg.emb_dim, eps=cfg.eps)
        )
        self.blocks = nn.ModuleList(TFGridNetBlock(cfg) for _ in range(cfg.n_layers))
        self.head = nn.ConvTranspose2d(cfg.emb_dim, cfg.out_channels, 3, padding=1)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # runs before the children load: fill in trailing blocks the state dict does not have
        present = [any(k.startswith(f"{prefix}blocks.{i}.") for k in state_dict) for i in range(len(self.blocks))]
        if present and present[0] and not all(present):
            k = present.index(False)
            if not any(present[k:]):  # only trailing blocks missing: grow by identities
                for i in range(k, len(self.blocks)):
                    for name, value in self.blocks[i].make_identity_().state_dict().items():
                        state_dict[f"{prefix}blocks.{i}.{name}"] = value.clone()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_channels, T, F] -> [B, out_channels, T, F]``."""
        h = self.embed(x).permute(0, 2, 3, 1)  # [B, T, F, D]
        for block in self.blocks:
            h = block(h)
        return self.head(h.permute(0, 3, 1, 2))
