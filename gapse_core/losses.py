"""Training losses, shared by every stage. Shapes: waveforms ``[B, n]``, spectra ``[B, F, T]``."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

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


def compressed_spectral_loss(est: torch.Tensor, ref: torch.Tensor, c: float = 0.3,
                             phase_weight: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Power-law compressed spectra (``|X|^c e^{j angle X}``).

    Returns ``(complex_mse, magnitude_mse)`` over all bins of complex ``[B, F, T]`` spectra.
    ``phase_weight`` (broadcastable to ``[B, F, T]``, e.g. ``[B, F, 1]``) scales each bin's
    complex error, still averaged over all bins: 0 leaves a bin to the magnitude term alone.
    """
    mag_e = (est.abs() + EPS).pow(c)
    mag_r = (ref.abs() + EPS).pow(c)
    comp_e = mag_e * est / (est.abs() + EPS)
    comp_r = mag_r * ref / (ref.abs() + EPS)
    err = (comp_e - comp_r).abs().pow(2)
    if phase_weight is not None:
        err = err * phase_weight
    return err.mean(), (mag_e - mag_r).pow(2).mean()


def missing_band(noisy: torch.Tensor, ref: torch.Tensor, db: float, max_bin: int | None = None,
                 floor_db: float = 60.0) -> torch.Tensor:
    """Frequency bins the input lacks: ``[B, F, 1]``, 1.0 where missing, else 0.0.

    ``noisy`` / ``ref``: complex ``[B, F, T]`` spectra of the degraded input and the clean
    target. A bin is missing where the input's power over the crop is more than ``db`` below the
    target's (a band limit removed it) and the target's is within ``floor_db`` of its strongest
    bin; bins from ``max_bin`` up are never counted (where the target itself has no speech, both
    are numerical noise). No phase can be recovered in a missing bin.
    """
    p_in = noisy.abs().pow(2).mean(-1, keepdim=True)
    p_ref = ref.abs().pow(2).mean(-1, keepdim=True)
    audible = p_ref > p_ref.amax(1, keepdim=True) * 10 ** (-floor_db / 10)
    if max_bin is not None:
        audible[:, max_bin:] = False
    return ((p_ref > p_in * 10 ** (db / 10)) & audible).float()


def multi_resolution_stft_loss(est: torch.Tensor, ref: torch.Tensor,
                               ffts: tuple[int, ...] = (256, 512, 1024),
                               log_weight: float = 1.0) -> torch.Tensor:
    """Spectral convergence + ``log_weight`` x log-magnitude L1 of waveforms ``[B, n]``, averaged
    over STFT resolutions (hop = n_fft/4): a scalar.

    The spectral convergence is taken over the whole batch (Frobenius norms of ``[B, F, T]``),
    so an example whose reference is silent (a crop between utterances) does not divide by zero.
    The log-magnitude term weighs every bin alike, however quiet: energy of any kind (noise
    included) in a bin where the reference has a little lowers it, where an estimate that
    silenced that bin pays in full.
    """
    total = est.new_zeros(())
    for n_fft in ffts:
        win = torch.hann_window(n_fft, device=est.device)
        se = torch.stft(est, n_fft, n_fft // 4, window=win, return_complex=True).abs()
        sr = torch.stft(ref, n_fft, n_fft // 4, window=win, return_complex=True).abs()
        sc = torch.linalg.norm(sr - se) / (torch.linalg.norm(sr) + EPS)
        total = total + sc + log_weight * (torch.log(se + 1e-5) - torch.log(sr + 1e-5)).abs().mean()
    return total / len(ffts)


def anti_wrapped(x: torch.Tensor) -> torch.Tensor:
    """``|x - 2 pi round(x / 2 pi)|``: the distance of a phase difference from zero on the circle."""
    return (x - 2 * torch.pi * torch.round(x / (2 * torch.pi))).abs()


def phase_derivative_loss(est: torch.Tensor, ref: torch.Tensor, n_fft: int = 512,
                          hop: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """Group-delay and instantaneous-frequency errors of waveforms ``[B, n]`` (APNet's anti-wrapping losses).

    The phase's derivatives along frequency (group delay) and time (instantaneous frequency)
    carry the harmonic and formant structure a mel loss leaves to chance, and unlike the
    absolute phase they do not depend on where a frame starts. Each bin counts in proportion to
    ``sqrt(|ref| |est|)`` (the estimate's magnitude detached): silent bins, whose phase is
    noise, count for nothing, and a bin the estimate has (nearly) zeroed cannot blow up the
    phase's gradient ``1 / |est|``. Returns ``(group_delay, instantaneous_frequency)`` in radians.
    """
    win = torch.hann_window(n_fft, device=est.device)
    se = torch.stft(est, n_fft, hop, window=win, return_complex=True)  # [B, F, T]
    sr = torch.stft(ref, n_fft, hop, window=win, return_complex=True)
    weight = (sr.abs() * se.abs().detach()).sqrt()
    pe, pr = torch.angle(se + EPS), torch.angle(sr + EPS)

    def weighted(err: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return (err * w).sum() / (w.sum() + EPS)

    gd = weighted(anti_wrapped(pe.diff(dim=1) - pr.diff(dim=1)), torch.minimum(weight[:, 1:], weight[:, :-1]))
    inst = weighted(anti_wrapped(pe.diff(dim=2) - pr.diff(dim=2)), torch.minimum(weight[..., 1:], weight[..., :-1]))
    return gd, inst


# --- adversarial training (LSGAN / hinge) and feature matching ----------------------------------

def discriminator_loss(real: list[torch.Tensor], fake: list[torch.Tensor], kind: str = "lsgan") -> torch.Tensor:
    """Sum over sub-discriminators; ``fake`` must come from detached generator outputs."""
    total = real[0].new_zeros(())
    for r, f in zip(real, fake):
        if kind == "lsgan":
            total = total + (1 - r).pow(2).mean() + f.pow(2).mean()
        elif kind == "hinge":
            total = total + F.relu(1 - r).mean() + F.relu(1 + f).mean()
        else:
            raise ValueError(f"unknown GAN loss {kind!r}")
    return total


def generator_adversarial_loss(fake: list[torch.Tensor], kind: str = "lsgan") -> torch.Tensor:
    if kind not in ("lsgan", "hinge"):
        raise ValueError(f"unknown GAN loss {kind!r}")
    terms = [(1 - f).pow(2).mean() if kind == "lsgan" else (-f).mean() for f in fake]
    return torch.stack(terms).sum()


def feature_matching_loss(real_feats: list[list[torch.Tensor]], fake_feats: list[list[torch.Tensor]]) -> torch.Tensor:
    """Mean L1 between the discriminators' feature maps of real and generated audio."""
    terms = [(r.detach() - f).abs().mean() for rs, fs in zip(real_feats, fake_feats) for r, f in zip(rs, fs)]
    return torch.stack(terms).mean()


@functools.lru_cache(maxsize=32)
def mel_filterbank(fs: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """``[n_mels, n_fft/2 + 1]`` Slaney mel filters (librosa's); cached, so callers must not modify it."""
    import librosa

    return torch.from_numpy(librosa.filters.mel(sr=fs, n_fft=n_fft, n_mels=n_mels)).float()


def multi_scale_mel_loss(est: torch.Tensor, ref: torch.Tensor, fs: int,
                         scales: tuple[tuple[int, int], ...] = ((512, 64), (1024, 80), (2048, 128))) -> torch.Tensor:
    """L1 between log-mel spectrograms at several (n_fft, n_mels) scales, hop n_fft/4."""
    total = est.new_zeros(())
    for n_fft, n_mels in scales:
        fb = mel_filterbank(fs, n_fft, n_mels).to(est.device)
        win = torch.hann_window(n_fft, device=est.device)
        me = fb @ torch.stft(est, n_fft, n_fft // 4, window=win, return_complex=True).abs()
        mr = fb @ torch.stft(ref, n_fft, n_fft // 4, window=win, return_complex=True).abs()
        total = total + (torch.log(me.clamp_min(1e-5)) - torch.log(mr.clamp_min(1e-5))).abs().mean()
    return total / len(scales)
