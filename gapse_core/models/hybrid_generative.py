"""The hybrid system's generative branch: SSL features -> token LM -> LM-conditioned DPRNN mask.

Hybrid paper (discriminative-generative): the degraded speech's SSL features, through a
linear adapter, are the prefix of a decoder-only LM (``models/token_lm.py``) that predicts
the clean speech's first-layer residual-VQ codec tokens one after another; a DPRNN
(``models/hybrid_mask.py``) estimates a complex mask on the degraded STFT, cross-attending
after each inter-frame LSTM to the LM's last hidden states. The codec itself only supplies
the LM's training targets: the branch's output is the masked degraded spectrum.

* :class:`HybridBranch` is what the ``hybrid`` training stage learns and the ``hybrid-small``
  checkpoint holds: the LM and the DPRNN together (trained jointly).
* :class:`HybridGenerative` runs it on speech of any rate with the frozen SSL encoder
  (DeWavLM-Omni, the GAP-generative branch's; its phonetic = last-layer representation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..audio.resample import resample_to_length
from .hybrid_mask import HybridMask, HybridMaskConfig
from .ssl import SSL_RATE, SSLEncoder, to_16k_with_lost_packets
from .token_lm import TokenLM, TokenLMConfig


@dataclass
class HybridConfig:
    lm: TokenLMConfig = field(default_factory=TokenLMConfig)
    mask: HybridMaskConfig = field(default_factory=HybridMaskConfig)


class HybridBranch(nn.Module):
    """Token LM + LM-conditioned DPRNN mask, at 16 kHz.

    ``forward(noisy [B, n], ssl [B, T, D_ssl], tokens [B, T])`` (teacher forcing) ->
    ``(logits [B, T, K], estimate [B, F, T'] complex, mask [B, F, T'] complex, scale [B, 1])``.
    """

    config_class = HybridConfig

    def __init__(self, cfg: HybridConfig) -> None:
        super().__init__()
        if cfg.lm.dim != cfg.mask.lm_dim:
            raise ValueError(f"mask.lm_dim ({cfg.mask.lm_dim}) must equal the LM's dim ({cfg.lm.dim})")
        self.cfg = cfg
        self.lm = TokenLM(cfg.lm)
        self.mask = HybridMask(cfg.mask)

    def forward(self, noisy: torch.Tensor, ssl: torch.Tensor, tokens: torch.Tensor):
        logits, hidden = self.lm(ssl, tokens)
        est, mask, scale = self.mask.masked(noisy, hidden)
        return logits, est, mask, scale

    @torch.no_grad()
    def enhance_16k(self, noisy: torch.Tensor, ssl: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Inference: tokens decoded greedily (KV cache), then the mask.

        ``noisy [B, n]``, ``ssl [B, T, D_ssl]`` -> ``(enhanced [B, n], mask [B, F, T'], tokens [B, T])``.
        """
        tokens, hidden = self.lm.generate(ssl)
        y, mask = self.mask(noisy, hidden)
        return y, mask, tokens


class HybridGenerative(nn.Module):
    """The frozen SSL encoder and the hybrid branch run as one: ``wave [n] @ fs -> [n] @ fs``.

    Lost 20 ms packets are found at the input's rate and their SSL frames get DeWavLM's mask
    embedding, as in the GAP-generative branch. Content above 8 kHz is not kept (16 kHz branch).
    """

    # The longest input the Enhancer gives it: the token LM decodes autoregressively and was trained on
    # 2 s crops (configs/hybrid/small.yaml); on 8 s chunks it drifted, and a 4 s clip repeated twice lost
    # ESTOI (0.54 against 0.62 alone; in 2 s chunks 0.63), measured 2026-11-25.
    chunk_seconds = 2.0

    def __init__(self, ssl: SSLEncoder, branch: HybridBranch) -> None:
        super().__init__()
        if ssl.dim != branch.cfg.lm.ssl_dim:
            raise ValueError(f"the SSL encoder gives {ssl.dim}-dim features; the LM expects {branch.cfg.lm.ssl_dim}")
        self.ssl, self.branch = ssl, branch

    def features(self, wave: torch.Tensor, lost: torch.Tensor | None = None) -> torch.Tensor:
        """``wave [B, n]`` at 16 kHz -> the LM's prefix ``[B, ceil(n / 320) + 1, D_ssl]`` (phonetic features)."""
        return self.ssl.centred(wave, lost).phonetic

    @torch.inference_mode()
    def enhance(self, wave: np.ndarray, fs: int) -> np.ndarray:
        """``[n]`` at ``fs`` Hz -> ``[n]`` at ``fs`` Hz (16 kHz bandwidth at most)."""
        device = next(self.parameters()).device
        x16, lost = to_16k_with_lost_packets(wave, fs)
        x = torch.from_numpy(x16)[None].to(device)
        y16 = self.branch.enhance_16k(x, self.features(x, lost.to(device)))[0][0].float().cpu().numpy()
        return resample_to_length(y16, SSL_RATE, fs, len(wave)).astype(np.float32)
