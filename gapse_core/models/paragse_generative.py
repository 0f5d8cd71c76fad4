"""ParaGSE as a generative branch: degraded speech -> codec tokens -> clean tokens -> speech.

1. The input is resampled to 16 kHz and scaled to the training level (RMS ``LEVEL``; the
   predictor was trained on degraded speech at about that level, and codec tokens are not
   level-invariant: ``audio/level.py``).
2. The frozen group-VQ codec tokenises it (``[1, T, G]`` at 50 Hz); the predictor maps the
   degraded spectrum and those tokens to clean tokens, all ``G`` groups in one parallel pass.
3. The codec's decoder synthesises 16 kHz speech, which is resampled back to the input's rate
   and scaled back by the same gain (so removed noise stays removed).

Content above 8 kHz is never generated here (the codec is a 16 kHz codec).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..audio.level import level_gain
from ..audio.resample import resample, resample_to_length
from .codec import CODEC_RATE, Codec
from .paragse import ParaGSE, check_codec


class ParaGSEGenerative(nn.Module):
    """The codec and the token predictor run as one: ``wave [n] @ fs -> [n] @ fs``."""

    def __init__(self, codec: Codec, predictor: ParaGSE) -> None:
        super().__init__()
        check_codec(codec.cfg, predictor.cfg)
        self.codec, self.predictor = codec, predictor

    def forward_16k(self, wave: torch.Tensor, mode: str = "parallel") -> torch.Tensor:
        """``[B, n]`` at 16 kHz (RMS ~``LEVEL``) -> enhanced ``[B, n]``."""
        noisy_codes = self.codec.tokens(wave)
        clean_codes = self.predictor.predict(wave, noisy_codes, mode)
        return self.codec.decode(clean_codes, wave.shape[-1])

    @torch.inference_mode()
    def enhance(self, wave: np.ndarray, fs: int) -> np.ndarray:
        """``[n]`` at ``fs`` Hz -> ``[n]`` at ``fs`` Hz (16 kHz bandwidth at most)."""
        device = next(self.parameters()).device
        x16 = resample(wave, fs, CODEC_RATE)
        gain = level_gain(x16, floor=1e-4)
        y16 = self.forward_16k(torch.from_numpy(x16 * gain).float()[None].to(device))[0].float().cpu().numpy()
        return (resample_to_length(y16, CODEC_RATE, fs, len(wave)) / gain).astype(np.float32)
