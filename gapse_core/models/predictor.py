"""Predictive branch: TF-GridNet complex spectral mapping on the SFI STFT (any rate, 8-48 kHz).

GAP-URGENet's "Predictor" and the hybrid system's discriminative branch. The noisy waveform
is divided by its standard deviation, transformed with the SFI STFT, mapped by TF-GridNet
from (real, imag) of the noisy spectrum to (real, imag) of the enhanced spectrum, inverted and
scaled back, so the output has the input's rate, length and level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..audio.stft import SFISTFT
from ..nn.tfgridnet import TFGridNet, TFGridNetConfig


@dataclass
class PredictorConfig:
    """Predictor = SFI STFT window/hop (ms) + TF-GridNet sizes + what the network's two outputs mean.

    ``output="mapping"`` (the papers'): the outputs are the enhanced spectrum's real and
    imaginary parts. ``output="mask"``: they are a complex ratio mask multiplied onto the
    noisy spectrum, initialised to the identity (1 + 0j), which small models learn faster.
    """

    win_ms: float = 32.0
    hop_ms: float = 16.0
    output: str = "mapping"
    net: TFGridNetConfig = field(default_factory=TFGridNetConfig)


class Predictor(nn.Module):
    """Complex spectral mapping with TF-GridNet."""

    config_class = PredictorConfig

    def __init__(self, cfg: PredictorConfig) -> None:
        super().__init__()
        if cfg.net.in_channels != 2 or cfg.net.out_channels != 2:
            raise ValueError("the predictor maps (real, imag) to (real, imag): in/out_channels must be 2")
        if cfg.output not in ("mapping", "mask"):
            raise ValueError(f"output must be 'mapping' or 'mask', got {cfg.output!r}")
        self.cfg = cfg
        self.stft = SFISTFT(cfg.win_ms, cfg.hop_ms)
        self.net = TFGridNet(cfg.net)
        if cfg.output == "mask":  # start from the identity mask: the untrained model passes its input through
            with torch.no_grad():
                self.net.head.weight.mul_(0.1)
                self.net.head.bias.copy_(torch.tensor([1.0, 0.0]))

    def forward_spec(self, wave: torch.Tensor, fs: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Enhance in the STFT domain.

        Args:
            wave: ``[B, n]`` noisy waveform at ``fs`` Hz.

        Returns:
            ``(spec [B, F, T] complex, scale [B, 1])``: the enhanced spectrum of the
            normalised signal and the factor that restores the input level.
        """
        scale = wave.std(dim=-1, keepdim=True).clamp_min(1e-5)
        spec = self.stft.stft(wave / scale, fs)  # [B, F, T]
        x = torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)  # [B, 2, T, F]
        y = self.net(x).transpose(2, 3)  # [B, 2, F, T]
        out = torch.complex(y[:, 0].float(), y[:, 1].float())
        return (out * spec if self.cfg.output == "mask" else out), scale

    def forward(self, wave: torch.Tensor, fs: int, spectrum: bool = False):
        """``[B, n]`` noisy -> ``[B, n]`` enhanced, same rate and level.

        With ``spectrum=True`` returns ``forward_spec``'s ``(spec, scale)`` instead (training
        goes through ``forward`` so DistributedDataParallel sees the call).
        """
        spec, scale = self.forward_spec(wave, fs)
        if spectrum:
            return spec, scale
        return self.stft.istft(spec, fs, wave.shape[-1]) * scale
