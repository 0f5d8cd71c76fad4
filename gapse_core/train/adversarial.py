"""The adversarial half every GAN stage shares (vocoder, adapter, codec).

A stage subclasses :class:`AdversarialStage` and supplies ``build_discriminator``,
``generate`` (the generator's forward: ``{"real", "fake", ...}``) and ``reconstruction``
(its own non-adversarial loss); the discriminator loss and the generator's adversarial +
feature-matching terms live here once. The trainer's GAN step calls them in order
(see :class:`~gapse_core.train.trainer.GANStage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

import torch
from torch import nn

from ..losses import (discriminator_loss, feature_matching_loss, generator_adversarial_loss, multi_scale_mel_loss,
                      multi_resolution_stft_loss, phase_derivative_loss)


@dataclass
class WaveformDiscriminatorConfig:
    """Multi-period + multi-resolution STFT discriminators (HiFi-GAN's MPD: 32 and 1024 channels)."""

    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    ffts: tuple[int, ...] = (512, 1024, 2048)
    channels: int = 16
    max_channels: int = 128

    def build(self) -> nn.Module:
        from ..nn.discriminators import WaveformDiscriminators

        return WaveformDiscriminators(self.periods, self.ffts, self.channels, self.max_channels)


@dataclass
class AdversarialLossConfig:
    """Weights of the adversarial terms; ``kind``: ``hinge`` or ``lsgan``.

    The generator's adversarial and feature-matching terms start at ``gan_start_step``; the
    discriminators start ``disc_warmup_steps`` earlier, learning from the generator's output
    while the generator still trains on its reconstruction loss alone, so the first adversarial
    gradients it gets come from discriminators that already tell real from fake. (On the codec
    and the vocoder, 2,000-3,000 warm-up steps did not prevent the early loss of quality when
    the adversarial terms came in: see their model cards.)
    """

    w_adv: float = 1.0
    w_fm: float = 2.0
    kind: str = "hinge"
    gan_start_step: int = 0
    disc_warmup_steps: int = 0


@dataclass
class ResynthesisLossConfig(AdversarialLossConfig):
    """A waveform generator's reconstruction terms (vocoder, codec): ``w_mel`` x multi-scale
    log-mel L1 + ``w_phase`` x (group-delay + instantaneous-frequency error,
    :func:`~gapse_core.losses.phase_derivative_loss`) + ``w_stft`` x multi-resolution STFT loss
    over ``stft_ffts`` (:func:`~gapse_core.losses.multi_resolution_stft_loss`); a weight of 0
    turns its term off (Vocos' mel loss alone).

    The linear-frequency STFT term sees what mel bands average away: at n_fft 2048 (7.8 Hz bins
    at 16 kHz) the harmonics of the 50 Hz frame rate that a frame-wise generator leaves when
    its frames repeat (a buzz) stand apart from the valleys between them.
    """

    w_mel: float = 45.0
    w_phase: float = 0.0
    w_stft: float = 0.0
    stft_ffts: tuple[int, ...] = (512, 1024, 2048)


class AdversarialStage:
    """Shared GAN wiring; ``self.cfg.loss`` must have the fields of :class:`AdversarialLossConfig`."""

    cfg: Any

    @property
    def gan_start_step(self) -> int:
        return self.cfg.loss.gan_start_step

    @property
    def disc_start_step(self) -> int:
        """First step at which the discriminators are updated (``gan_start_step - disc_warmup_steps``)."""
        return self.cfg.loss.gan_start_step - self.cfg.loss.disc_warmup_steps

    def reconstruction(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def generate(self, model: nn.Module, batch: Any, device: torch.device) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def discriminator_loss(self, disc: nn.Module, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        real, _ = disc(out["real"])
        fake, _ = disc(out["fake"].detach())
        return discriminator_loss(real, fake, self.cfg.loss.kind), {}

    def generator_loss(self, disc: nn.Module | None, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """``reconstruction`` + (with a discriminator) ``w_adv`` x adversarial + ``w_fm`` x feature matching."""
        loss, logs = self.reconstruction(out)
        if disc is not None:
            lc = self.cfg.loss
            fake, fake_feats = disc(out["fake"])
            with torch.no_grad():
                _, real_feats = disc(out["real"])
            adv = generator_adversarial_loss(fake, lc.kind)
            fm = feature_matching_loss(real_feats, fake_feats)
            loss = loss + lc.w_adv * adv + lc.w_fm * fm
            logs = {**logs, "adv": adv.item(), "fm": fm.item()}
        return loss, logs

    def loss(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        """The generator's loss without a discriminator (what the trainer uses for non-GAN runs)."""
        return self.reconstruction(self.generate(model, batch, device))


class SpeechResynthesisStage(AdversarialStage):
    """A GAN stage whose generator must give clean speech back (vocoder, codec).

    ``self.cfg`` has ``discriminator`` (:class:`WaveformDiscriminatorConfig`) and ``data``
    (:class:`~gapse_core.train.representations.SpeechDataConfig`); ``data_salt`` keeps each
    stage's random stream its own.
    """

    data_salt = 0
    _val: list[np.ndarray] | None = None

    def build_discriminator(self) -> nn.Module:
        return self.cfg.discriminator.build()

    def resynthesis_loss(self, fake: torch.Tensor, real: torch.Tensor, rate: int) -> tuple[torch.Tensor, dict[str, float]]:
        """Waveforms ``[B, n]`` -> the weighted mel (+ phase-derivative) loss of ``self.cfg.loss``
        (a :class:`ResynthesisLossConfig`) and its logged parts."""
        lc = self.cfg.loss
        mel = multi_scale_mel_loss(fake, real, rate)
        loss, logs = lc.w_mel * mel, {"mel": mel.item()}
        if lc.w_phase > 0:
            gd, inst = phase_derivative_loss(fake, real)
            loss = loss + lc.w_phase * (gd + inst)
            logs.update(gd=gd.item(), inst_freq=inst.item())
        if lc.w_stft > 0:
            stft = multi_resolution_stft_loss(fake, real, tuple(lc.stft_ffts))
            loss = loss + lc.w_stft * stft
            logs["stft"] = stft.item()
        return loss, logs

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        from .representations import clean_stream

        return clean_stream(self.cfg.data, [seed, rank, start_step, self.data_salt], self.cfg.trainer.num_workers)

    def validation_crops(self) -> list[np.ndarray]:
        """Fixed clean crops of the held-out speakers (made once)."""
        from .representations import clean_crops, speech_mixer

        if self._val is None:
            d = self.cfg.data
            self._val = clean_crops(speech_mixer(d.path, "val"), np.random.default_rng(4321), d.val_examples,
                                    d.val_seconds)
        return self._val
