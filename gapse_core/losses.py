"""Training losses, shared by every stage. Shapes: waveforms ``[B, n]``, spectra ``[B, F, T]``."""

from __future__ import annotations

import torch

EPS = 1e-8


def snr_loss(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Negative SNR in dB, averaged over the batch."""
    noise = (est - ref).pow(2).sum(-1)
    return -(10 * torch.log10(ref.pow(2).sum(-1) / (noise + EPS) + EPS)).mean()


def si_sdr_loss(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Negative scale-invariant SDR in dB, averaged over the batch."""
    est = est - est.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    alpha = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + EPS)
    target = alpha * ref
    return -(10 * torch.log10(target.pow(2).sum(-1) / ((est - target).pow(2).sum(-1) + EPS) + EPS)).mean()


def compressed_spectral_loss(est: torch.Tensor, ref: torch.Tensor, c: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """Power-law compressed spectra (``|X|^c e^{j angle X}``).

    Returns ``(complex_mse, magnitude_mse)`` over all bins of complex ``[B, F, T]`` spectra.
    """
    mag_e = (est.abs() + EPS).pow(c)
    mag_r = (ref.abs() + EPS).pow(c)
    comp_e = mag_e * est / (est.abs() + EPS)
    comp_r = mag_r * ref / (ref.abs() + EPS)
    return (comp_e - comp_r).abs().pow(2).mean(), (mag_e - mag_r).pow(2).mean()


def multi_resolution_stft_loss(est: torch.Tensor, ref: torch.Tensor,
                               ffts: tuple[int, ...] = (256, 512, 1024)) -> torch.Tensor:
    """Spectral convergence + log-magnitude L1, averaged over STFT resolutions (hop = n_fft/4)."""
    total = est.new_zeros(())
    for n_fft in ffts:
        win = torch.hann_window(n_fft, device=est.device)
        se = torch.stft(est, n_fft, n_fft // 4, window=win, return_complex=True).abs()
        sr = torch.stft(ref, n_fft, n_fft // 4, window=win, return_complex=True).abs()
        sc = torch.linalg.norm(sr - se, dim=(-2, -1)) / (torch.linalg.norm(sr, dim=(-2, -1)) + EPS)
        total = total + sc.mean() + (torch.log(se + 1e-5) - torch.log(sr + 1e-5)).abs().mean()
    return total / len(ffts)
