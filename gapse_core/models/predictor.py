"""Predictive branch: TF-GridNet complex spectral mapping on the SFI STFT (any rate, 8-48 kHz).

GAP-URGENet's "Predictor" and the hybrid system's discriminative branch. The noisy waveform
is divided by its standard deviation, transformed with the SFI STFT, mapped by TF-GridNet
from (real, imag) of the noisy spectrum to (real, imag) of the enhanced spectrum, inverted and
scaled back, so the output has the input's rate, length and level.

Three readings of the network's output (``PredictorConfig.output``): the enhanced spectrum
itself (the papers' mapping), a complex ratio mask on the noisy bin, or a *deep filter*
(DeepFilterNet's multi-frame complex filter): ``K`` complex taps per bin applied to the noisy
bin's frames around ``t`` (earlier ones and, with a lookahead, later ones), which can subtract
reflections that reach back further than one 32 ms frame, something a per-bin mask can only
attenuate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..audio.stft import SFISTFT
from ..nn.tfgridnet import TFGridNet, TFGridNetConfig


@dataclass
class PredictorConfig:
    """Predictor = SFI STFT window/hop (ms) + TF-GridNet sizes + what the network's two outputs mean.

    ``output="mapping"`` (the papers'): the outputs are the enhanced spectrum's real and
    imaginary parts. ``output="mask"``: they are a complex ratio mask multiplied onto the
    noisy spectrum, initialised to the identity (1 + 0j), which small models learn faster.
    ``output="deep_filter"``: ``df_order`` complex taps per bin over the noisy frames
    ``t - df_order + 1 + df_lookahead .. t + df_lookahead`` (a mask is the one-tap case),
    initialised to the identity on frame ``t``. ``net.out_channels`` stays 2 (real, imag per
    tap); the predictor widens the head to ``2 x df_order`` itself.
    """

    win_ms: float = 32.0
    hop_ms: float = 16.0
    output: str = "mapping"
    df_order: int = 1
    df_lookahead: int = 0
    net: TFGridNetConfig = field(default_factory=TFGridNetConfig)

    @property
    def taps(self) -> int:
        """Complex filter taps per bin: ``df_order`` for a deep filter, 1 for a mask, 0 for mapping."""
        return {"mapping": 0, "mask": 1}.get(self.output, self.df_order)

    @property
    def current_tap(self) -> int:
        """Index of the tap that filters frame ``t`` (the identity tap at initialisation)."""
        return max(self.taps - 1 - (self.df_lookahead if self.output == "deep_filter" else 0), 0)


class Predictor(nn.Module):
    """Complex spectral mapping (or masking, or deep filtering) with TF-GridNet.

    **From a mask to a deep filter.** A state dict whose head has 2 output channels (a mask
    or one-tap model) loads, strictly, into a deep-filter predictor with the same TF-GridNet:
    the old head becomes the current-frame tap and the other taps start at zero, so the new
    model computes exactly what the mask model did and a fine-tune goes on from there.
    """

    config_class = PredictorConfig

    def __init__(self, cfg: PredictorConfig) -> None:
        super().__init__()
        if cfg.net.in_channels != 2 or cfg.net.out_channels != 2:
            raise ValueError("the predictor maps (real, imag) to (real, imag): in/out_channels must be 2")
        if cfg.output not in ("mapping", "mask", "deep_filter"):
            raise ValueError(f"output must be 'mapping', 'mask' or 'deep_filter', got {cfg.output!r}")
        if cfg.output == "deep_filter" and not 0 <= cfg.df_lookahead < cfg.df_order:
            raise ValueError(f"deep_filter needs 0 <= df_lookahead < df_order, got {cfg.df_lookahead}, {cfg.df_order}")
        self.cfg = cfg
        self.stft = SFISTFT(cfg.win_ms, cfg.hop_ms)
        self.net = TFGridNet(replace(cfg.net, out_channels=2 * max(cfg.taps, 1)))
        if cfg.taps:  # start from the identity filter: the untrained model passes its input through
            with torch.no_grad():
                self.net.head.weight.mul_(0.1)
                self.net.head.bias.zero_()
                self.net.head.bias[2 * cfg.current_tap] = 1.0

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # a one-tap head (mask) loaded into a deep filter becomes its current-frame tap
        taps, key = self.cfg.taps, f"{prefix}net.head."
        if taps > 1 and state_dict.get(key + "bias", torch.empty(0)).shape == (2,):
            c = 2 * self.cfg.current_tap
            weight = torch.zeros_like(self.net.head.weight)  # ConvTranspose2d: [D, 2K, 3, 3]
            weight[:, c:c + 2] = state_dict[key + "weight"]
            bias = torch.zeros_like(self.net.head.bias)
            bias[c:c + 2] = state_dict[key + "bias"]
            state_dict[key + "weight"], state_dict[key + "bias"] = weight, bias
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _filter(self, y: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
        """Apply the network's taps ``y [B, 2K, F, T]`` to the noisy ``spec [B, F, T]`` -> ``[B, F, T]``."""
        k, now = self.cfg.taps, self.cfg.current_tap
        taps = torch.complex(y[:, 0::2].float(), y[:, 1::2].float())  # [B, K, F, T]
        if k == 1:
            return taps[:, 0] * spec
        frames = F.pad(torch.view_as_real(spec), (0, 0, now, k - 1 - now))  # [B, F, T+K-1, 2]
        frames = torch.view_as_complex(frames.unfold(2, k, 1).movedim(-1, 1).contiguous())  # [B, K, F, T]
        return (taps * frames).sum(1)

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
        y = self.net(x).transpose(2, 3)  # [B, 2K, F, T] (K = max(taps, 1))
        if self.cfg.taps:
            return self._filter(y, spec), scale
        return torch.complex(y[:, 0].float(), y[:, 1].float()), scale

    def forward(self, wave: torch.Tensor, fs: int, spectrum: bool = False):
        """``[B, n]`` noisy -> ``[B, n]`` enhanced, same rate and level.

        With ``spectrum=True`` returns ``forward_spec``'s ``(spec, scale)`` instead (training
        goes through ``forward`` so DistributedDataParallel sees the call).
        """
        spec, scale = self.forward_spec(wave, fs)
        if spectrum:
            return spec, scale
        return self.stft.istft(spec, fs, wave.shape[-1]) * scale
