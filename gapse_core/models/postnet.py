"""GAP-URGENet's PostNet (Sec. 2.3): fuse both branches and extend the band, at 48 kHz.

Both branch outputs are resampled to 48 kHz (:meth:`PostNet.enhance` does it for waveforms at
any rate) and analysed by one STFT of
32 ms / 16 ms (1536 / 768 samples, 769 bins). The bins are cut into ``n_bands`` bands of equal
width that share their edge bins (3 x 257: 0-8, 8-16 and 16-24 kHz) and the bands are
stacked as channels (the channel-wise subband, CWS, input of TS-URGENet's CWS-TF-GridNet), so
one TF-GridNet (``nn/tfgridnet.py``, the predictive branch's blocks) sees every band at once
on a 257-bin axis, three times shorter than the full band.

The network maps the stacked bands to a correction of the predictive branch's spectrum::

    Y = Y_pred + D(Y_pred, Y_gen)        for bins below ``restore_hz``
    Y = Y_pred                           above it

The head starts at zero, so an untrained PostNet returns the predictive branch, and what it
learns is what to take from the generative branch and what to add where both are missing
(bandwidth extension). ``restore_hz`` is the highest frequency the training speech had: a
PostNet trained on 16 kHz speech (LibriSpeech; gapse's shipped one) has only learned the band
up to 8 kHz and leaves the predictive branch alone above it instead of guessing; one trained
on 48 kHz speech sets ``restore_hz: 24000``.

Shapes: ``pred, gen [B, n]`` at 48 kHz -> spectra ``[B, 769, T]``; the network sees
``[B, 2 * 2 * n_bands, T, 257]`` (real and imaginary parts of both branches per band, divided by
the predictive branch's level) and returns ``[B, 2 * n_bands, T, 257]``; the output is
``[B, n]`` at 48 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..audio.resample import resample_to_length
from ..audio.stft import SFISTFT
from ..nn.tfgridnet import TFGridNet, TFGridNetConfig

RATE = 48000


def _postnet_net() -> TFGridNetConfig:
    return TFGridNetConfig(in_channels=12, out_channels=6, emb_dim=16, emb_ks=4, emb_hs=4, lstm_hidden=24,
                           n_layers=1, n_heads=2, attn_dim=4)


@dataclass
class PostNetConfig:
    """Paper (CWS-TF-GridNet): ``net: {emb_dim: 96, n_layers: 5, lstm_hidden: 100, n_heads: 4, attn_dim: 2}``."""

    win_ms: float = 32.0
    hop_ms: float = 16.0
    n_bands: int = 3
    restore_hz: float = 8000.0  # the network changes the spectrum below this; the predictive branch passes above
    net: TFGridNetConfig = field(default_factory=_postnet_net)


class PostNet(nn.Module):
    """``(pred, gen [B, n] at 48 kHz) -> [B, n] at 48 kHz``."""

    config_class = PostNetConfig
    rate = RATE

    def __init__(self, cfg: PostNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.stft = SFISTFT(cfg.win_ms, cfg.hop_ms)
        half = self.stft.n_fft(RATE) // 2
        if half % cfg.n_bands:
            raise ValueError(f"{half} bins (+1) do not split into {cfg.n_bands} equal bands")
        self.band = half // cfg.n_bands  # band b covers bins [b * band, (b + 1) * band]
        if cfg.net.in_channels != 4 * cfg.n_bands or cfg.net.out_channels != 2 * cfg.n_bands:
            raise ValueError(f"with {cfg.n_bands} bands the network maps {4 * cfg.n_bands} channels "
                             f"(2 branches x real/imag) to {2 * cfg.n_bands}: set net.in_channels / out_channels")
        self.net = TFGridNet(cfg.net)
        with torch.no_grad():  # start as the identity on the predictive branch
            self.net.head.weight.zero_()
            self.net.head.bias.zero_()

    def split(self, spec: torch.Tensor) -> torch.Tensor:
        """``[B, F, T]`` complex -> ``[B, 2 * n_bands, T, band + 1]`` (real/imag of each band)."""
        w = self.band
        bands = [spec[:, b * w: (b + 1) * w + 1] for b in range(self.cfg.n_bands)]
        return torch.cat([torch.stack([s.real, s.imag], 1) for s in bands], 1).transpose(2, 3)

    def merge(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`split`: the shared edge bins of neighbouring bands are averaged."""
        w, n_bands = self.band, self.cfg.n_bands
        x = x.transpose(2, 3).float()  # [B, 2 * n_bands, band + 1, T]
        out = x.new_zeros(x.shape[0], 2, n_bands * w + 1, x.shape[-1])
        count = x.new_zeros(1, 1, n_bands * w + 1, 1)
        for b in range(n_bands):
            out[:, :, b * w: (b + 1) * w + 1] += x[:, 2 * b: 2 * b + 2]
            count[:, :, b * w: (b + 1) * w + 1] += 1
        out = out / count
        return torch.complex(out[:, 0], out[:, 1])

    def forward(self, pred: torch.Tensor, gen: torch.Tensor) -> torch.Tensor:
        scale = pred.std(dim=-1, keepdim=True).clamp_min(1e-5)[:, :, None]  # [B, 1, 1]
        y_pred, y_gen = (self.stft.stft(x, RATE) / scale for x in (pred, gen))  # [B, F, T]
        feats = torch.cat([self.split(y_pred), self.split(y_gen)], 1)  # [B, 4 * n_bands, T, band + 1]
        delta = self.merge(self.net(feats))  # [B, F, T]
        k = self.stft.bins_up_to(self.cfg.restore_hz, RATE)  # the bins the network may change
        out = torch.cat([y_pred[:, :k] + delta[:, :k], y_pred[:, k:]], 1) * scale
        return self.stft.istft(out, RATE, pred.shape[-1])

    def enhance(self, pred: np.ndarray, gen: np.ndarray, fs: int) -> np.ndarray:
        """Both branches ``[n]`` at ``fs`` -> 48 kHz -> PostNet -> back to ``fs``: ``[n]``."""
        n48 = int(round(len(pred) * RATE / fs))
        device = self.net.head.weight.device
        args = [torch.from_numpy(resample_to_length(np.ascontiguousarray(x, np.float32), fs, RATE, n48))[None]
                .to(device) for x in (pred, gen)]
        with torch.inference_mode():
            y = self(*args)[0].float().cpu().numpy()
        return resample_to_length(y, RATE, fs, len(pred))
