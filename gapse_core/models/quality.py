"""Learned speech-quality predictor: a small differentiable imitation of DNSMOS P.835.

The hybrid system trains its fusion network with a speech-quality-assessment (SQA) loss: the
score a quality model gives the fused output. DNSMOS itself is an ONNX graph (no gradients)
and costs about 0.2 s of CPU per clip, so gapse trains this network to predict DNSMOS's
(OVRL, SIG, BAK) from the waveform, with DNSMOS as the teacher, on clean, degraded and
enhanced speech (``train/quality.py``). It is then both the SQA term of ``train/fusion.py``
and a metric in its own right, reported beside its correlation with DNSMOS on held-out clips.

Shapes: ``wave [B, n]`` at 16 kHz -> log spectrum ``[B, F, T]`` (``F = n_mels`` mel bands, or
``n_fft / 2 + 1`` linear bins when ``n_mels = 0``) -> optionally a 2-D convolution stack over
(frequency, time) that halves the frequency axis per layer, ``[B, c2, F', T]`` flattened to
``[B, c2 F', T]`` -> dilated residual 1-D convolutions ``[B, C, T]`` -> BiGRU ``[B, T, 2H]`` ->
attention pooling over frames ``[B, 2H]`` -> ``[B, 3]`` scores on the MOS scale, in the order of
``OUTPUTS``. The 2-D stack sees local spectral shapes (harmonics, noise floors, band edges) the
way DNSMOS's own convolutional network does, rather than only a frame's mel envelope.

Unlike most models here it does **not** normalise the input level: DNSMOS hears level too.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..losses import mel_filterbank

RATE = 16000
OUTPUTS = ("ovrl", "sig", "bak")


@dataclass
class QualityConfig:
    n_fft: int = 512  # 32 ms at 16 kHz
    hop: int = 256
    n_mels: int = 64  # 0: the linear-frequency log power spectrum, n_fft / 2 + 1 bins
    conv2d_channels: int = 0  # > 0: a 2-D convolution front end with this many channels
    conv2d_layers: int = 4  # each halves the frequency axis (stride 2)
    channels: int = 64
    layers: int = 4  # residual conv blocks, dilation 1, 2, 4, ...
    gru_hidden: int = 64
    mos_mean: float = 3.0  # output offset: an untrained model predicts this


class QualityPredictor(nn.Module):
    """``wave [B, n] @ 16 kHz -> scores [B, 3]`` (DNSMOS OVRL, SIG, BAK estimates)."""

    config_class = QualityConfig

    def __init__(self, cfg: QualityConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        if cfg.n_mels:
            self.register_buffer("mel", mel_filterbank(RATE, cfg.n_fft, cfg.n_mels), persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        bins = cfg.n_mels or cfg.n_fft // 2 + 1
        self.conv2d = nn.Sequential()
        if cfg.conv2d_channels:
            c2 = cfg.conv2d_channels
            for i in range(cfg.conv2d_layers):
                self.conv2d.append(nn.Conv2d(1 if i == 0 else c2, c2, 3, stride=(2, 1), padding=1))
                self.conv2d.append(nn.GroupNorm(1, c2))
                self.conv2d.append(nn.GELU())
                bins = (bins - 1) // 2 + 1
            bins *= c2
        self.inp = nn.Conv1d(bins, c, 5, padding=2)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.GroupNorm(1, c), nn.GELU(), nn.Conv1d(c, c, 5, padding=2 * 2 ** i, dilation=2 ** i))
            for i in range(cfg.layers))
        self.gru = nn.GRU(c, cfg.gru_hidden, batch_first=True, bidirectional=True)
        self.attn = nn.Linear(2 * cfg.gru_hidden, 1)
        self.out = nn.Linear(2 * cfg.gru_hidden, len(OUTPUTS))

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, n] -> [B, F, T]`` log power, mel or linear bins (dB / 20, so values stay near unit scale)."""
        spec = torch.stft(wave.float(), self.cfg.n_fft, self.cfg.hop, window=self.window, return_complex=True)
        power = spec.abs().pow(2)
        if self.cfg.n_mels:
            power = self.mel @ power
        return torch.log10(power + 1e-8) / 2.0

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.features(wave)
        if self.cfg.conv2d_channels:
            x = self.conv2d(x.unsqueeze(1)).flatten(1, 2)  # [B, c2, F', T] -> [B, c2 F', T]
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        h, _ = self.gru(h.transpose(1, 2))  # [B, T, 2H]
        w = torch.softmax(self.attn(h), dim=1)  # [B, T, 1]
        return self.out((w * h).sum(1)) + self.cfg.mos_mean
