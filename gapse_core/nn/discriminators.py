"""GAN discriminators shared by the vocoder, the codec and the PostNet stages.

- :class:`MultiPeriodDiscriminator` (HiFi-GAN): the waveform folded into ``[T/p, p]`` for each
  period ``p`` (2, 3, 5, 7, 11), 2-D convs over time with kernel width 1 across the period.
- :class:`MultiResolutionSTFTDiscriminator` (UnivNet/Vocos "MRD"): 2-D convs over
  log-magnitude spectrograms at several FFT sizes.

Each returns, per sub-discriminator, its logits and the list of intermediate feature maps
(for feature matching).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

Outputs = tuple[list[torch.Tensor], list[list[torch.Tensor]]]


def run_conv_stack(convs: nn.ModuleList, out: nn.Module, h: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Leaky-ReLU conv layers then the output conv: ``(logits [B, L], every layer's feature map)``."""
    feats = []
    for conv in convs:
        h = F.leaky_relu(conv(h), 0.1)
        feats.append(h)
    h = out(h)
    feats.append(h)
    return h.flatten(1), feats


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, channels: int = 32, max_channels: int = 512) -> None:
        super().__init__()
        self.period = period
        chans = [1] + [min(channels * 4**i, max_channels) for i in range(4)]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(chans[i], chans[i + 1], (5, 1), (3, 1), padding=(2, 0))) for i in range(4))
        self.convs.append(weight_norm(nn.Conv2d(chans[-1], chans[-1], (5, 1), 1, padding=(2, 0))))
        self.out = weight_norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``[B, n]`` -> ``(logits [B, L], feature maps)``."""
        b, n = x.shape
        pad = (-n) % self.period
        x = F.pad(x, (0, pad), mode="reflect" if pad < n else "constant")
        return run_conv_stack(self.convs, self.out, x.view(b, 1, -1, self.period))


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, periods: tuple[int, ...] = (2, 3, 5, 7, 11), channels: int = 32,
                 max_channels: int = 512) -> None:
        super().__init__()
        self.discs = nn.ModuleList(PeriodDiscriminator(p, channels, max_channels) for p in periods)

    def forward(self, x: torch.Tensor) -> Outputs:
        outs = [d(x) for d in self.discs]
        return [o[0] for o in outs], [o[1] for o in outs]


class STFTDiscriminator(nn.Module):
    def __init__(self, n_fft: int, channels: int = 32) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, channels, (3, 9), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))),
        ])
        self.out = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``[B, n]`` -> ``(logits [B, L], feature maps)`` from the log-magnitude ``[B, 1, T, F]``."""
        spec = torch.stft(x, self.n_fft, self.n_fft // 4, window=self.window, return_complex=True)
        h = torch.log(spec.abs().clamp_min(1e-5)).transpose(1, 2).unsqueeze(1)  # [B, 1, T, F]
        return run_conv_stack(self.convs, self.out, h)


class MultiResolutionSTFTDiscriminator(nn.Module):
    def __init__(self, ffts: tuple[int, ...] = (512, 1024, 2048), channels: int = 32) -> None:
        super().__init__()
        self.discs = nn.ModuleList(STFTDiscriminator(n, channels) for n in ffts)

    def forward(self, x: torch.Tensor) -> Outputs:
        outs = [d(x) for d in self.discs]
        return [o[0] for o in outs], [o[1] for o in outs]


class FeatureDiscriminator(nn.Module):
    """Representation-domain discriminator (GAP-URGENet's adapter): 1-D convs over ``[B, T, D]`` frames.

    Returns the same ``(logits, feature maps)`` lists as the waveform discriminators (one
    sub-discriminator), so the same GAN losses apply.
    """

    def __init__(self, dim: int, channels: int = 128, n_layers: int = 3) -> None:
        super().__init__()
        chans = [dim] + [channels] * n_layers
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(chans[i], chans[i + 1], 5, stride=1 if i == 0 else 2, padding=2))
            for i in range(n_layers))
        self.out = weight_norm(nn.Conv1d(channels, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> Outputs:
        """``[B, T, D]`` -> ``([logits [B, L]], [feature maps])``."""
        logits, feats = run_conv_stack(self.convs, self.out, x.transpose(1, 2))
        return [logits], [feats]


class WaveformDiscriminators(nn.Module):
    """Multi-period + multi-resolution STFT discriminators side by side (the vocoder's and the codec's)."""

    def __init__(self, periods: tuple[int, ...] = (2, 3, 5, 7, 11), ffts: tuple[int, ...] = (512, 1024, 2048),
                 channels: int = 32, max_channels: int = 512) -> None:
        super().__init__()
        self.mpd = MultiPeriodDiscriminator(periods, channels, max_channels)
        self.mrd = MultiResolutionSTFTDiscriminator(ffts, channels)

    def forward(self, x: torch.Tensor) -> Outputs:
        """``[B, n]`` -> logits and feature maps of every sub-discriminator (MPD first, then MRD)."""
        a, fa = self.mpd(x)
        b, fb = self.mrd(x)
        return a + b, fa + fb
