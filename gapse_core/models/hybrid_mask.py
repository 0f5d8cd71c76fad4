"""The hybrid system's generative-branch mask estimator: a DPRNN that listens to the token LM.

The degraded STFT (magnitude, real, imaginary) is embedded and downsampled over frequency by
strided 2-D convolutions; each dual-path block runs an intra-frame BiLSTM across frequency,
an inter-frame BiLSTM across time, and then **cross-attends** from every frame to the token
LM's last hidden states (``models/token_lm.py``), so what the LM "heard" steers the mask. A
transposed convolution restores the frequency resolution and gives a complex mask (bounded
magnitude) that multiplies the degraded spectrum.

Loss (hybrid paper): NLL of the LM + 0.1 complex MSE + 0.9 magnitude MSE + 0.01 PMSQE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class HybridMaskConfig:
    n_fft: int = 512  # 32 ms at 16 kHz
    hop: int = 256
    channels: int = 32
    freq_down: int = 2  # stride-2 convolutions over frequency
    blocks: int = 2
    lstm_hidden: int = 64
    lm_dim: int = 256  # the token LM's hidden size
    heads: int = 4


class DualPathBlock(nn.Module):
    """Intra-frame BiLSTM (frequency) -> inter-frame BiLSTM (time) -> cross-attention to the LM."""

    def __init__(self, cfg: HybridMaskConfig, n_freq: int) -> None:
        super().__init__()
        c, h = cfg.channels, cfg.lstm_hidden
        self.intra = nn.LSTM(c, h, batch_first=True, bidirectional=True)
        self.intra_proj = nn.Linear(2 * h, c)
        self.intra_norm = nn.LayerNorm(c)
        self.inter = nn.LSTM(c, h, batch_first=True, bidirectional=True)
        self.inter_proj = nn.Linear(2 * h, c)
        self.inter_norm = nn.LayerNorm(c)
        self.query = nn.Linear(c * n_freq, cfg.lm_dim)
        self.cross = nn.MultiheadAttention(cfg.lm_dim, cfg.heads, batch_first=True)
        self.back = nn.Linear(cfg.lm_dim, c * n_freq)

    def forward(self, x: torch.Tensor, lm_hidden: torch.Tensor) -> torch.Tensor:
        """``x [B, C, T, F']``, ``lm_hidden [B, N, lm_dim]`` -> ``[B, C, T, F']``."""
        b, c, t, f = x.shape
        h = x.permute(0, 2, 3, 1).reshape(b * t, f, c)  # along frequency
        h = h + self.intra_norm(self.intra_proj(self.intra(h)[0]))
        h = h.reshape(b, t, f, c).transpose(1, 2).reshape(b * f, t, c)  # along time
        h = h + self.inter_norm(self.inter_proj(self.inter(h)[0]))
        h = h.reshape(b, f, t, c).permute(0, 2, 1, 3)  # [B, T, F', C]
        q = self.query(h.reshape(b, t, f * c))
        ctx = self.cross(q, lm_hidden, lm_hidden, need_weights=False)[0]  # [B, T, lm_dim]
        h = h + self.back(ctx).reshape(b, t, f, c)
        return h.permute(0, 3, 1, 2)


class HybridMask(nn.Module):
    """``(noisy [B, n] @ 16 kHz, lm_hidden [B, N, lm_dim]) -> (enhanced [B, n], mask [B, F, T] complex)``."""

    config_class = HybridMaskConfig

    def __init__(self, cfg: HybridMaskConfig) -> None:
        super().__init__()
        self.cfg = cfg
        bins = cfg.n_fft // 2 + 1
        self.pad_bins = (-bins) % (2 ** cfg.freq_down)
        downs, f = [nn.Conv2d(3, cfg.channels, 3, padding=1)], bins + self.pad_bins
        for _ in range(cfg.freq_down):
            downs += [nn.PReLU(), nn.Conv2d(cfg.channels, cfg.channels, (1, 4), stride=(1, 2), padding=(0, 1))]
            f //= 2
        self.down = nn.Sequential(*downs)
        self.blocks = nn.ModuleList(DualPathBlock(cfg, f) for _ in range(cfg.blocks))
        ups = []
        for _ in range(cfg.freq_down):
            ups += [nn.ConvTranspose2d(cfg.channels, cfg.channels, (1, 4), stride=(1, 2), padding=(0, 1)), nn.PReLU()]
        self.up = nn.Sequential(*ups, nn.Conv2d(cfg.channels, 2, 3, padding=1))
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)

    def stft(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, n]`` -> complex ``[B, F, T]`` (the mask's own 32 ms / 16 ms grid at 16 kHz)."""
        return torch.stft(wave, self.cfg.n_fft, self.cfg.hop, window=self.window, return_complex=True)

    def masked(self, noisy: torch.Tensor, lm_hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(estimate [B, F, T] complex, mask [B, F, T] complex, scale [B, 1])``.

        The estimate is the masked spectrum of ``noisy / scale`` (``scale``: the input's std),
        which is what the training loss compares with the STFT of ``clean / scale``.
        """
        scale = noisy.std(-1, keepdim=True).clamp_min(1e-5)
        spec = self.stft(noisy / scale)
        x = torch.stack([spec.abs(), spec.real, spec.imag], 1).transpose(2, 3)  # [B, 3, T, F]
        x = nn.functional.pad(x, (0, self.pad_bins))
        h = self.down(x)
        for block in self.blocks:
            h = block(h, lm_hidden)
        m = self.up(h)[..., : spec.shape[1]].transpose(2, 3)  # [B, 2, F, T]
        mask = torch.complex(m[:, 0], m[:, 1])
        mask = mask * torch.tanh(mask.abs()) / mask.abs().clamp_min(1e-8)  # |M| < 1, phase free
        return spec * mask, mask, scale

    def forward(self, noisy: torch.Tensor, lm_hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        est, mask, scale = self.masked(noisy, lm_hidden)
        y = torch.istft(est, self.cfg.n_fft, self.cfg.hop, window=self.window, length=noisy.shape[-1])
        return y * scale, mask
