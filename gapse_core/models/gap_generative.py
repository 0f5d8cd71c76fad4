"""GAP-URGENet's generative branch: DeWavLM-Omni -> Adapter -> Vocoder, at any input rate.

1. Lost 20 ms packets are found at the input's own rate (exact zeros survive only there).
2. The input is resampled to 16 kHz; DeWavLM-Omni (the distilled student encoder) gives the
   phonetic ``R_P`` (last layer) and acoustic ``R_A0`` (first layer) representations, with the
   lost packets' frames replaced by the mask embedding.
3. The adapter turns ``(R_P, R_A0)`` into enhanced acoustic representations ``R_A``.
4. The vocoder (trained on the teacher's clean ``R_A``) synthesises 16 kHz speech, which is
   resampled back to the input's rate and brought to the input's RMS level.

Content above 8 kHz is never generated here: restoring it is the PostNet's job (fusion).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..audio.resample import resample_to_length
from .adapter import Adapter
from .ssl import SSL_RATE, SSLEncoder, to_16k_with_lost_packets
from .vocoder import Vocoder


class GAPGenerative(nn.Module):
    """The three trained parts of the branch, run as one: ``wave [n] @ fs -> [n] @ fs``."""

    def __init__(self, dewavlm: SSLEncoder, adapter: Adapter, vocoder: Vocoder) -> None:
        super().__init__()
        if not dewavlm.dim == adapter.cfg.backbone.input_dim == vocoder.cfg.backbone.input_dim:
            raise ValueError(f"feature sizes differ: DeWavLM {dewavlm.dim}, adapter "
                             f"{adapter.cfg.backbone.input_dim}, vocoder {vocoder.cfg.backbone.input_dim}")
        self.dewavlm, self.adapter, self.vocoder = dewavlm, adapter, vocoder

    def forward_16k(self, wave: torch.Tensor, lost: torch.Tensor | None = None) -> torch.Tensor:
        """``wave [B, n]`` at 16 kHz, ``lost [B, ceil(n / 320)]`` -> enhanced ``[B, n]`` at RMS ~0.1."""
        f = self.dewavlm.centred(wave, lost)
        return self.vocoder.synthesize(self.adapter(f.phonetic, f.acoustic), wave.shape[-1])

    @torch.inference_mode()
    def enhance(self, wave: np.ndarray, fs: int) -> np.ndarray:
        """``[n]`` at ``fs`` Hz -> ``[n]`` at ``fs`` Hz (16 kHz bandwidth at most), the input's RMS."""
        device = next(self.parameters()).device
        x16, lost = to_16k_with_lost_packets(wave, fs)
        y16 = self.forward_16k(torch.from_numpy(x16)[None].to(device), lost.to(device))[0].float().cpu().numpy()
        y = resample_to_length(y16, SSL_RATE, fs, len(wave))
        rms_in, rms_out = float(np.sqrt(np.mean(wave**2))), float(np.sqrt(np.mean(y**2)))
        return (y * (rms_in / rms_out) if rms_out > 1e-8 else y).astype(np.float32)
