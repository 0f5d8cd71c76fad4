"""A neural speech codec that gapse trains itself (16 kHz, 50 Hz tokens): ParaGSE's and the hybrid's.

    wave [B, n] --frames of 80 samples, hop 40 (400 Hz)--> encoder (Vocos backbone)
      --> strided conv (x8) --> latent [B, T, D] at 50 Hz --> quantizer (group or residual VQ)
      --> tokens [B, T, streams] --> decoder (Vocos backbone + iSTFT head, hop 320) --> wave

ParaGSE's codec analyses 80-sample MDCT frames with hop 40; gapse's encoder takes the raw
80-sample frames instead and lets its first convolution learn the analysis. The input is
padded so latent frame ``t`` is centred on sample ``320 t``, where the decoder's iSTFT puts
frame ``t``: the output needs no shift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.quantizers import Quantized, Quantizer, QuantizerConfig
from ..nn.vocos import ISTFTHead, VocosBackbone, VocosConfig

CODEC_RATE = 16000
TOKEN_HOP = 320  # samples per token frame: 50 Hz


@dataclass
class CodecConfig:
    frame: int = 80  # analysis frame (samples)
    hop: int = 40  # analysis hop: 8 frames per token frame
    encoder: VocosConfig = field(default_factory=lambda: VocosConfig(input_dim=80, dim=64, intermediate_dim=192,
                                                                     n_layers=3))
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    decoder: VocosConfig = field(default_factory=lambda: VocosConfig(input_dim=32, dim=192, intermediate_dim=576,
                                                                     n_layers=6))
    n_fft: int = 4 * TOKEN_HOP


class Codec(nn.Module):
    """Encoder -> quantizer -> decoder; ``forward(wave [B, n]) -> (wave_hat [B, n], Quantized)``."""

    config_class = CodecConfig

    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        if TOKEN_HOP % cfg.hop or cfg.encoder.input_dim != cfg.frame:
            raise ValueError("the analysis hop must divide 320 and encoder.input_dim must equal the frame length")
        if cfg.decoder.input_dim != cfg.quantizer.dim:
            raise ValueError("decoder.input_dim must equal quantizer.dim")
        self.cfg = cfg
        self.stride = TOKEN_HOP // cfg.hop
        self.encoder = VocosBackbone(cfg.encoder)
        self.down = nn.Conv1d(cfg.encoder.dim, cfg.encoder.dim, self.stride, stride=self.stride)
        self.to_latent = nn.Linear(cfg.encoder.dim, cfg.quantizer.dim)
        self.quantizer = Quantizer(cfg.quantizer)
        self.decoder = VocosBackbone(cfg.decoder)
        self.head = ISTFTHead(cfg.decoder.dim, cfg.n_fft, TOKEN_HOP)

    @property
    def frame_rate(self) -> float:
        return CODEC_RATE / TOKEN_HOP

    @property
    def bitrate(self) -> float:
        return self.quantizer.bitrate(self.frame_rate)

    def n_tokens(self, n: int) -> int:
        """Token frames for ``n`` samples: enough for the iSTFT to cover all of them."""
        return -(-n // TOKEN_HOP) + 1

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, n]`` at 16 kHz -> latent ``[B, n_tokens(n), D]`` (before quantization)."""
        b, n = wave.shape
        t = self.n_tokens(n)
        centre = self.cfg.frame // 2 + (self.stride - 1) * self.cfg.hop // 2  # centre of a latent frame's span
        length = self.cfg.hop * (self.stride * t - 1) + self.cfg.frame
        x = F.pad(wave, (centre, max(0, length - n - centre)))[:, :length]
        frames = x.unfold(-1, self.cfg.frame, self.cfg.hop)  # [B, 8 t, frame]
        h = self.encoder(frames.transpose(1, 2))  # [B, 8 t, dim]
        h = self.down(h.transpose(1, 2)).transpose(1, 2)  # [B, t, dim]
        return self.to_latent(h)

    def quantize(self, wave: torch.Tensor) -> Quantized:
        return self.quantizer(self.encode(wave))

    def tokens(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, n]`` -> codes ``[B, n_tokens(n), streams]``."""
        return self.quantize(wave).codes

    def decode_latent(self, latent: torch.Tensor, n: int) -> torch.Tensor:
        """Quantized latent ``[B, T, D]`` -> ``[B, n]``."""
        return self.head(self.decoder(latent.transpose(1, 2)))[:, :n]

    def decode(self, codes: torch.Tensor, n: int) -> torch.Tensor:
        """Codes ``[B, T, streams]`` -> ``[B, n]`` (``T`` = ``n_tokens(n)``)."""
        return self.decode_latent(self.quantizer.decode(codes), n)

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, Quantized]:
        q = self.quantize(wave)
        return self.decode_latent(q.quantized, wave.shape[-1]), q
