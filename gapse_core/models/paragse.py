"""ParaGSE's token predictor: clean codec tokens from degraded speech, every group in parallel.

The group-VQ codec (``models/codec.py``) gives ``G`` independent token streams at 50 Hz. The
predictor encodes the degraded spectrum once (shared features) and runs one **token head per
group**, each fed with the shared features and the degraded speech's own token of that
group; the heads do not depend on each other, so one pass predicts all groups:

    noisy [B, n] -> STFT (n_fft 320, hop 40: 400 Hz) log-magnitude, cos/sin phase
      -> 3 stride-2 convs (50 Hz) -> 2-layer BiLSTM -> Conformer -> shared [B, T, D]
    head g: [embedding(noisy token g) ; shared] -> Linear -> BiLSTM -> Conformer -> logits [B, T, K]

The frozen codec's decoder turns the argmax tokens into speech. ``predict(mode="serial")``
runs the same predictor the way a serial approach must: one full pass (shared encoder and
head) per group, one after another, for the speed comparison in ``benchmarks/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..nn.conformer import Conformer, ConformerConfig

STFT_HOP = 40  # 400 Hz analysis: 8 frames per 50 Hz token


@dataclass
class ParaGSEConfig:
    n_fft: int = 320
    channels: int = 128
    lstm_hidden: int = 128
    shared: ConformerConfig = field(default_factory=lambda: ConformerConfig(dim=128, heads=4, n_layers=1))
    streams: int = 4  # = the codec's groups
    codebook_size: int = 256  # = the codec's codebook size
    token_embedding: int = 64
    head_lstm: int = 64
    head: ConformerConfig = field(default_factory=lambda: ConformerConfig(dim=128, heads=4, n_layers=1))


class TokenHead(nn.Module):
    """``(shared [B, T, D], noisy tokens [B, T]) -> logits [B, T, K]`` for one group."""

    def __init__(self, cfg: ParaGSEConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.codebook_size, cfg.token_embedding)
        self.inp = nn.Linear(cfg.shared.dim + cfg.token_embedding, cfg.head.dim)
        self.lstm = nn.LSTM(cfg.head.dim, cfg.head_lstm, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * cfg.head_lstm, cfg.head.dim)
        self.conformer = Conformer(cfg.head)
        self.out = nn.Linear(cfg.head.dim, cfg.codebook_size)

    def forward(self, shared: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        h = self.inp(torch.cat([shared, self.embed(tokens)], -1))
        h = self.proj(self.lstm(h)[0])
        return self.out(self.conformer(h))


class ParaGSE(nn.Module):
    """``forward(noisy [B, n] @ 16 kHz, noisy_codes [B, T, G]) -> logits [B, T, G, K]``."""

    config_class = ParaGSEConfig

    def __init__(self, cfg: ParaGSEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        bins = cfg.n_fft // 2 + 1
        convs, ch = [], 3 * bins
        for _ in range(3):
            convs += [nn.Conv1d(ch, cfg.channels, 2, stride=2), nn.GELU()]
            ch = cfg.channels
        self.down = nn.Sequential(*convs)
        self.lstm = nn.LSTM(cfg.channels, cfg.lstm_hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * cfg.lstm_hidden, cfg.shared.dim)
        self.conformer = Conformer(cfg.shared)
        self.heads = nn.ModuleList(TokenHead(cfg) for _ in range(cfg.streams))
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)

    def shared_features(self, noisy: torch.Tensor, n_tokens: int) -> torch.Tensor:
        """``[B, n]`` -> ``[B, n_tokens, D]``; token ``t`` sees the STFT frames centred on
        ``320 t - 160 ... 320 t + 120`` (the codec's token ``t`` is centred on sample ``320 t``)."""
        scale = noisy.std(-1, keepdim=True).clamp_min(1e-5)
        spec = torch.stft(noisy / scale, self.cfg.n_fft, STFT_HOP, window=self.window, return_complex=True)
        feats = torch.cat([torch.log1p(spec.abs()), torch.cos(spec.angle()), torch.sin(spec.angle())], 1)
        need = 8 * n_tokens
        feats = nn.functional.pad(feats, (4, max(0, need - 4 - feats.shape[-1])))[..., :need]  # [B, 3F, 8T]
        h = self.down(feats).transpose(1, 2)  # [B, T, C]
        return self.conformer(self.proj(self.lstm(h)[0]))

    def forward(self, noisy: torch.Tensor, noisy_codes: torch.Tensor) -> torch.Tensor:
        shared = self.shared_features(noisy, noisy_codes.shape[1])
        return torch.stack([head(shared, noisy_codes[..., g]) for g, head in enumerate(self.heads)], 2)

    @torch.no_grad()
    def predict(self, noisy: torch.Tensor, noisy_codes: torch.Tensor, mode: str = "parallel") -> torch.Tensor:
        """Argmax clean codes ``[B, T, G]``; ``mode="serial"``: one full pass per group."""
        if mode == "parallel":
            return self(noisy, noisy_codes).argmax(-1)
        if mode != "serial":
            raise ValueError(f"mode must be 'parallel' or 'serial', got {mode!r}")
        out = []
        for g, head in enumerate(self.heads):
            shared = self.shared_features(noisy, noisy_codes.shape[1])
            out.append(head(shared, noisy_codes[..., g]).argmax(-1))
        return torch.stack(out, -1)


def check_codec(codec_cfg, cfg: ParaGSEConfig, name: str = "the codec") -> None:
    """Raise ``ValueError`` unless ``codec_cfg`` (a ``CodecConfig``) is a group-VQ codec whose
    groups and codebook size are the ones the predictor ``cfg`` predicts."""
    q = codec_cfg.quantizer
    if q.kind != "group" or q.streams != cfg.streams or q.codebook_size != cfg.codebook_size:
        raise ValueError(f"ParaGSE needs a group-VQ codec with {cfg.streams} groups of {cfg.codebook_size} "
                         f"codes; {name} has {q.kind} VQ, {q.streams} x {q.codebook_size}")
