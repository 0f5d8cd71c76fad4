"""Vocos (Siuzdak, 2024): a ConvNeXt backbone at the frame rate and an iSTFT head.

Shared by GAP-URGENet's vocoder (SSL features -> waveform), its adapter (the backbone alone,
features -> features) and the codec decoders. The backbone keeps the frame rate: no
upsampling happens until the head predicts a log-magnitude and phase per frame and one inverse
STFT turns them into samples (hop = samples per frame).

Paper sizes: ``dim`` 768-1024, 12 blocks, ``n_fft`` 1280, hop 320 at 16 kHz (50 Hz frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class VocosConfig:
    input_dim: int = 64  # feature channels in
    dim: int = 128
    intermediate_dim: int = 384
    n_layers: int = 4
    kernel_size: int = 7
    layer_scale: float = 0.0  # 0: 1 / n_layers (Vocos' default)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> Linear -> GELU -> Linear -> layer scale -> residual, on ``[B, C, T]``."""

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int, layer_scale: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, T] -> [B, C, T]``."""
        h = self.dwconv(x).transpose(1, 2)  # [B, T, C]
        h = self.pwconv2(self.act(self.pwconv1(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


class VocosBackbone(nn.Module):
    """``[B, input_dim, T]`` features -> ``[B, T, dim]`` hidden frames (same frame rate)."""

    def __init__(self, cfg: VocosConfig) -> None:
        super().__init__()
        self.cfg = cfg
        scale = cfg.layer_scale or 1.0 / cfg.n_layers
        self.embed = nn.Conv1d(cfg.input_dim, cfg.dim, cfg.kernel_size, padding=cfg.kernel_size // 2)
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(cfg.dim, cfg.intermediate_dim, cfg.kernel_size, scale) for _ in range(cfg.n_layers))
        self.final_norm = nn.LayerNorm(cfg.dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, input_dim, T] -> [B, T, dim]``."""
        h = self.norm(self.embed(x).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            h = block(h)
        return self.final_norm(h.transpose(1, 2))


class ISTFTHead(nn.Module):
    """``[B, T, dim]`` frames -> ``[B, T * hop]`` waveform via predicted log-magnitude and phase.

    A linear layer gives ``n_fft/2 + 1`` log-magnitudes and as many phase values per frame;
    magnitudes are ``exp`` and clipped at 100; a centred Hann iSTFT with hop ``hop`` makes
    exactly ``hop`` samples per frame.

    ``phase``:

    - ``"absolute"`` (Vocos): the phase values are each frame's phases. A generator whose
      phases change slowly from frame to frame repeats part of every frame, a signal periodic
      in the hop: lines at every multiple of the frame rate (a buzz;
      :func:`~gapse_core.metrics.frame_rate_buzz`), unless adversarial training teaches it the
      right phase advance.
    - ``"increment"``: the values are each bin's deviation from its nominal advance, and the
      phase is integrated over frames, ``phi[k, t] = phi[k, t-1] + 2 pi k hop / n_fft +
      d[k, t]`` (``phi[k, -1] = 0``), as a phase vocoder does. A steady output is then a
      steady sinusoid per bin, never a repeated frame, and ``d`` is the instantaneous-
      frequency deviation that :func:`~gapse_core.losses.phase_derivative_loss` supervises.
    - ``"rotating"``: the values are each frame's phases relative to a reference that advances
      by the nominal ``2 pi k hop / n_fft`` per frame, ``phi[k, t] = d[k, t] + 2 pi k hop t /
      n_fft``. As expressive as ``"absolute"`` (a change of variables), but steady values make a
      steady sinusoid per bin, as with ``"increment"``, and an error in one frame stays there.

    Both integrated kinds count frames from the first one given, so a caller that cuts a long
    input into chunks should start each chunk on a multiple of ``n_fft / gcd(n_fft, hop)``
    frames (4 for the vocoders here) to keep one reference.
    """

    PHASES = ("absolute", "increment", "rotating")

    def __init__(self, dim: int, n_fft: int, hop: int, phase: str = "absolute") -> None:
        super().__init__()
        if phase not in self.PHASES:
            raise ValueError(f"ISTFTHead phase must be one of {', '.join(self.PHASES)}, got {phase!r}")
        self.n_fft, self.hop, self.phase = n_fft, hop, phase
        self.out = nn.Linear(dim, n_fft + 2)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, dim]`` -> complex ``[B, n_fft/2 + 1, T]``."""
        log_mag, phase = self.out(x).transpose(1, 2).chunk(2, dim=1)
        mag = torch.exp(log_mag).clamp(max=1e2)
        if self.phase != "absolute":
            bins = torch.arange(phase.shape[1], device=phase.device, dtype=torch.float64)
            nominal = torch.remainder(2 * torch.pi * bins * self.hop / self.n_fft, 2 * torch.pi)[:, None]
            # float64: the sums grow by up to 2 pi a frame (6000 frames in a 2-minute block)
            if self.phase == "increment":
                phase = torch.cumsum(phase.double() + nominal, dim=-1)
            else:
                frames = torch.arange(1, phase.shape[-1] + 1, device=phase.device, dtype=torch.float64)
                phase = phase.double() + torch.remainder(nominal * frames, 2 * torch.pi)
            phase = torch.remainder(phase, 2 * torch.pi)
        return torch.polar(mag.float(), phase.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, T, dim] -> [B, T * hop]``."""
        spec = self.spectrum(x)
        return torch.istft(spec, self.n_fft, self.hop, window=self.window, center=True,
                           length=spec.shape[-1] * self.hop)
