"""Mask fusion of a predictive and a generative branch (hybrid paper, Sec. 2.3, Eq. 1).

A light network looks at the noisy input and both branch outputs and estimates a real
time-frequency mask ``M`` in [0, 1]; the fused spectrum is

    Y = M * Y_pred + (1 - M) * Y_gen

so ``M = 1`` keeps the predictive branch (fidelity, noise suppression) and ``M = 0`` takes the
generative one (detail it reconstructed). The paper uses a lightweight USES network; here the
network is the shared TF-GridNet (``nn/tfgridnet.py``) on the same SFI STFT as the predictive
branch (32 ms / 16 ms), so one set of weights serves every rate from 8 to 48 kHz and the mask
lines up with the spectrograms the demo draws.

Eq. 1 mixes complex spectra. The hybrid paper's generative branch is a mask on the noisy
spectrum, so its phase agrees with the predictive branch's; a vocoder or codec resynthesises
its own phase, and where the two phases disagree a mix partly cancels (at M = 0.5 and
unrelated phases the magnitude shrinks by about 30 %). ``gen_phase="predictive"`` therefore
mixes the generative branch's *magnitude* on the predictive branch's phase:
``Y = M * Y_pred + (1 - M) * |Y_gen| * Y_pred / |Y_pred|``.

The generative branches resynthesise 16 kHz speech and have nothing above 8 kHz
(``gen_band_hz``): the network only estimates ``M`` for the bins below it, and ``M = 1``
(the predictive branch) above.

What the network sees (``features``): ``"complex"``, the real and imaginary parts of the three
spectra normalised by the noisy input's level; or ``"logmag"``, what a choice between the
branches depends on: the three log-magnitudes (relative to the noisy input's level) and how far
apart the phases are (cosine and sine of the predictive branch's phase minus the generative
branch's, cosine of the predictive branch's minus the noisy input's). Both are 6 channels.

``smooth_bins 5`` averages the mask over neighbouring bins (``MaskFusion.smooth``), for a network
with disjoint 4-bin blocks whose mask would otherwise alternate from bin to bin.

Shapes: ``noisy, pred, gen [B, n]`` at ``fs`` -> spectra ``[B, F, T]``; the network sees
``[B, 6, T, F_low]`` and returns ``fused [B, n]`` and ``mask [B, F, T]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..audio.stft import SFISTFT
from ..nn.tfgridnet import TFGridNet, TFGridNetConfig


def _fusion_net() -> TFGridNetConfig:
    """One small TF-GridNet block. ``emb_hs=1``: bins unfold with stride 1; with disjoint blocks
    (``emb_hs == emb_ks``) each position in a block folds back with its own weights, and the
    sigmoid made that a period-``emb_ks`` comb across the mask (``checkpoints/fusion-hybrid-small.md``)."""
    return TFGridNetConfig(in_channels=6, out_channels=1, emb_dim=16, emb_ks=4, emb_hs=1, lstm_hidden=24,
                           n_layers=1, n_heads=2, attn_dim=4)


@dataclass
class MaskFusionConfig:
    win_ms: float = 32.0
    hop_ms: float = 16.0
    gen_band_hz: float = 8000.0  # the generative branch's band; M = 1 above it
    mask_init: float = 0.0  # the mask logit's initial bias (0 -> M = 0.5 everywhere)
    gen_phase: str = "own"  # "own": Eq. 1 as written; "predictive": |Y_gen| with the predictive branch's phase
    features: str = "complex"  # "complex": re/im of the 3 spectra; "logmag": 3 log-magnitudes + 3 phase differences
    # 5: the mask is averaged over 5 neighbouring bins with weights [1, 2, 2, 2, 1] / 8, a
    # kernel with zeros at periods of 4 and 2 bins: a network with disjoint 4-bin blocks
    # (``emb_hs 4``) draws its comb at exactly those periods. 1: no smoothing
    smooth_bins: int = 1
    net: TFGridNetConfig = field(default_factory=_fusion_net)


class MaskFusion(nn.Module):
    """``(noisy, pred, gen [B, n], fs) -> (fused [B, n], mask [B, F, T])``."""

    config_class = MaskFusionConfig

    def __init__(self, cfg: MaskFusionConfig) -> None:
        super().__init__()
        if cfg.gen_phase not in ("own", "predictive"):
            raise ValueError(f"gen_phase must be 'own' or 'predictive', got {cfg.gen_phase!r}")
        if cfg.features not in ("complex", "logmag"):
            raise ValueError(f"features must be 'complex' or 'logmag', got {cfg.features!r}")
        if cfg.smooth_bins not in (1, 5):
            raise ValueError(f"smooth_bins must be 1 (none) or 5 (the [1, 2, 2, 2, 1] / 8 kernel), got {cfg.smooth_bins}")
        if cfg.net.in_channels != 6 or cfg.net.out_channels != 1:
            raise ValueError("the fusion network maps 3 spectra (6 channels) to one mask: in/out_channels 6/1")
        self.cfg = cfg
        self.stft = SFISTFT(cfg.win_ms, cfg.hop_ms)
        self.net = TFGridNet(cfg.net)
        with torch.no_grad():
            self.net.head.bias.fill_(cfg.mask_init)

    def low_bins(self, fs: int) -> int:
        """How many bins (from 0 Hz) lie within the generative band at rate ``fs``."""
        return self.stft.bins_up_to(self.cfg.gen_band_hz, fs)

    def features(self, specs: list[torch.Tensor], scale: torch.Tensor) -> torch.Tensor:
        """``[noisy, pred, gen]`` spectra ``[B, F, T]`` and the noisy level ``[B, 1]`` -> ``[B, 6, F, T]``."""
        scale = scale[:, :, None]
        if self.cfg.features == "complex":
            return torch.cat([torch.stack([s.real, s.imag], 1) for s in specs], 1) / scale[:, None]
        mags = [s.abs() for s in specs]
        logmag = [torch.log(m / scale + 1e-4) for m in mags]
        noisy, pred, gen = (s / m.clamp_min(1e-8) for s, m in zip(specs, mags))  # unit phasors
        pg = pred * gen.conj()  # e^{i (phase_pred - phase_gen)}
        pn = pred * noisy.conj()
        return torch.stack([*logmag, pg.real, pg.imag, pn.real], 1)

    def smooth(self, mask: torch.Tensor) -> torch.Tensor:
        """``[B, F, T] -> [B, F, T]``: the mask averaged over frequency (``smooth_bins``), the
        edge bins repeated; unchanged for ``smooth_bins`` 1. Still in [0, 1]."""
        if self.cfg.smooth_bins == 1:
            return mask
        kernel = mask.new_tensor([1.0, 2.0, 2.0, 2.0, 1.0]) / 8
        b, f, t = mask.shape
        rows = mask.transpose(1, 2).reshape(b * t, 1, f)
        rows = torch.nn.functional.pad(rows, (2, 2), mode="replicate")
        return torch.nn.functional.conv1d(rows, kernel.view(1, 1, 5)).view(b, t, f).transpose(1, 2)

    def forward(self, noisy: torch.Tensor, pred: torch.Tensor, gen: torch.Tensor,
                fs: int) -> tuple[torch.Tensor, torch.Tensor]:
        scale = noisy.std(dim=-1, keepdim=True).clamp_min(1e-5)
        specs = [self.stft.stft(x, fs) for x in (noisy, pred, gen)]  # [B, F, T] each
        low = self.low_bins(fs)
        feats = self.features([s[:, :low] for s in specs], scale)  # [B, 6, F_low, T]
        logit = self.net(feats.transpose(2, 3))[:, 0].transpose(1, 2).float()  # [B, F_low, T]
        mask = torch.ones_like(specs[1].real)
        mask[:, :low] = self.smooth(torch.sigmoid(logit))
        gen_spec = specs[2]
        if self.cfg.gen_phase == "predictive":
            gen_spec = specs[2].abs() * specs[1] / specs[1].abs().clamp_min(1e-8)
        fused = mask * specs[1] + (1 - mask) * gen_spec
        return self.stft.istft(fused, fs, noisy.shape[-1]), mask
