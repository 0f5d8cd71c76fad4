"""GAP-URGENet's Vocoder: SSL acoustic representations (50 Hz) -> 16 kHz waveform (Vocos).

Trained alone on clean speech (the frozen SSL teacher's acoustic representations of clean
speech in, that speech out) and used without fine-tuning behind the adapter. The network is
the shared Vocos backbone and iSTFT head: ``n_fft = 4 x hop`` and ``hop = 320`` samples, the
SSL frame step, so one feature frame becomes one hop of samples.

:class:`LogMelFrames` is Vocos's own input, a log-mel spectrogram, on the SSL encoder's frame
grid: trained on it (``teacher: log-mel``), the same recipe shows how much of the vocoder's
error comes from the SSL features and how much from the recipe itself (``vocoder-small.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..losses import mel_filterbank
from ..nn.vocos import ISTFTHead, VocosBackbone, VocosConfig
from .ssl import CENTRED_OFFSET, FRAME_HOP, FRAME_WIN, SSL_RATE, SSLFeatures, centred_input

LOG_MEL = "log-mel"  # the teacher name that selects LogMelFrames instead of an SSL encoder


@dataclass
class VocoderConfig:
    """Paper (GAP-URGENet): dim 1024, intermediate 3072, 12 blocks, n_fft 1280, hop 320."""

    backbone: VocosConfig = field(default_factory=lambda: VocosConfig(input_dim=96, dim=192, intermediate_dim=576,
                                                                      n_layers=6))
    n_fft: int = 4 * FRAME_HOP
    hop: int = FRAME_HOP
    phase: str = "absolute"  # the iSTFT head's phase: "absolute" (Vocos), "increment" or "rotating" (nn/vocos.py)


class Vocoder(nn.Module):
    """``features [B, T, D]`` (D = ``backbone.input_dim``) -> waveform ``[B, T * hop]``."""

    config_class = VocoderConfig

    def __init__(self, cfg: VocoderConfig) -> None:
        super().__init__()
        if cfg.hop != FRAME_HOP:
            raise ValueError(f"the vocoder's hop must be the SSL frame step ({FRAME_HOP} samples at 16 kHz)")
        self.cfg = cfg
        self.backbone = VocosBackbone(cfg.backbone)
        self.head = ISTFTHead(cfg.backbone.dim, cfg.n_fft, cfg.hop, cfg.phase)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``[B, T, D] -> [B, T * hop]``."""
        return self.head(self.backbone(features.transpose(1, 2)))

    def synthesize(self, features: torch.Tensor, n: int) -> torch.Tensor:
        """Features of :meth:`SSLEncoder.centred` for an ``n``-sample input -> ``[B, n]`` aligned with it."""
        return self(features)[:, CENTRED_OFFSET: CENTRED_OFFSET + n]


class LogMelFrames(nn.Module):
    """A stand-in for the SSL teacher: log-mel frames on its centred 50 Hz grid.

    ``centred(wave [B, n])`` at 16 kHz -> :class:`SSLFeatures` whose ``acoustic`` (and
    ``phonetic``) is ``[B, ceil(n / 320) + 1, n_mels]``: ``log(mel power + 1e-5)`` of the same
    400-sample frames the SSL encoder's CNN sees (Hann window, 512-point FFT, Slaney mel), so
    frame ``t`` is centred on sample ``320 t - CENTRED_OFFSET`` exactly as the encoder's is.
    """

    def __init__(self, n_mels: int = 96) -> None:
        super().__init__()
        self.dim = n_mels
        self.register_buffer("filters", mel_filterbank(SSL_RATE, 512, n_mels).clone(), persistent=False)
        self.register_buffer("window", torch.hann_window(FRAME_WIN), persistent=False)

    def centred(self, wave: torch.Tensor, lost: torch.Tensor | None = None) -> SSLFeatures:
        """``[B, n] -> SSLFeatures`` (``lost`` is ignored: a spectrogram has no mask embedding)."""
        frames = centred_input(wave).unfold(-1, FRAME_WIN, FRAME_HOP)  # [B, T, 400]
        power = torch.fft.rfft(frames * self.window, n=512).abs().pow(2)
        mel = torch.log(power @ self.filters.T + 1e-5)
        return SSLFeatures(hidden=[mel], acoustic=mel, phonetic=mel)
