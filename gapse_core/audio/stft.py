"""Sampling-frequency-independent (SFI) STFT.

Window and hop are fixed in milliseconds, so the number of frequency bins grows with the
sampling rate while each bin keeps the same width in Hz (31.25 Hz for a 32 ms window).
A model whose layers have no frequency-sized parameters (TF-GridNet V3) can then run on
8 kHz (129 bins) and 48 kHz (769 bins) input alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SFISTFT:
    """STFT with a square-root Hann window of ``win_ms`` and hop ``hop_ms``."""

    win_ms: float = 32.0
    hop_ms: float = 16.0

    def n_fft(self, fs: int) -> int:
        """Window length in samples at rate ``fs`` (rounded to an even number)."""
        n = int(round(self.win_ms * fs / 1000.0))
        return n + (n % 2)

    def hop(self, fs: int) -> int:
        """Hop length in samples at rate ``fs``."""
        return max(1, int(round(self.hop_ms * fs / 1000.0)))

    def n_bins(self, fs: int) -> int:
        return self.n_fft(fs) // 2 + 1

    def bins_up_to(self, hz: float, fs: int) -> int:
        """How many bins, from 0 Hz, lie at or below ``hz`` at rate ``fs`` (all of them above Nyquist)."""
        return min(self.n_bins(fs), int(hz * self.n_fft(fs) / fs) + 1)

    def _window(self, fs: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        return torch.hann_window(self.n_fft(fs), periodic=True, device=device, dtype=dtype).sqrt()

    def stft(self, wave: torch.Tensor, fs: int) -> torch.Tensor:
        """``wave [B, n]`` -> complex spectrum ``[B, F, T]`` with ``F = n_fft/2 + 1``.

        Signals shorter than half a window are zero-padded at the end first (the centred
        STFT's reflection padding needs more samples than it pads); ``istft(..., length=n)``
        cuts the padding off again.
        """
        n_fft = self.n_fft(fs)
        if wave.shape[-1] <= n_fft // 2:
            wave = torch.nn.functional.pad(wave, (0, n_fft // 2 + 1 - wave.shape[-1]))
        return torch.stft(
            wave,
            n_fft=n_fft,
            hop_length=self.hop(fs),
            window=self._window(fs, wave.device, wave.dtype),
            center=True,
            return_complex=True,
        )

    def istft(self, spec: torch.Tensor, fs: int, length: int) -> torch.Tensor:
        """Complex ``spec [B, F, T]`` -> ``wave [B, length]``."""
        n_fft = self.n_fft(fs)
        return torch.istft(
            spec,
            n_fft=n_fft,
            hop_length=self.hop(fs),
            window=self._window(fs, spec.device, spec.real.dtype),
            center=True,
            length=length,
        )
