"""Training stage ``postnet``: GAP-URGENet's PostNet over two frozen branches (Sec. 2.3).

Data: the branch cache (``train/branch_cache.py``), as for the fusion stage: the noisy input,
the clean target and the frozen branches' outputs at 16 kHz, here resampled to the PostNet's
48 kHz (``data.predictive`` / ``data.generative`` name the two cached systems). The cache's
speech is LibriSpeech at 16 kHz, so the targets have nothing above 8 kHz: a PostNet trained on
it learns the band up to 8 kHz (restoring 4-8 kHz of band-limited input from the generative
branch and its own extension) and must keep ``model.restore_hz`` at 8000.

Loss (GAP-URGENet: the vocoder's): multi-scale log-mel L1 x ``w_mel`` at 48 kHz, plus
optional terms on level-normalised waveforms that hold the phase the mel loss ignores: a
multi-resolution STFT loss x ``w_mrstft`` and the predictive branch's compressed complex and
magnitude MSE x ``w_complex`` / ``w_magnitude``; then from ``gan_start_step`` the multi-period +
multi-resolution STFT discriminators (``train/adversarial.py``) with feature matching. In place
of the paper's UTMOS-aware term, ``w_sqa`` > 0 adds the learned-quality term of the fusion
stage: ``-w_sqa`` x the OVRL that the frozen ``quality`` model hears in the output, decimated
(differentiably) to its 16 kHz. ``missing_band_db`` > 0 drops the complex term where the noisy
input lacks the band (``losses.missing_band``), leaving the magnitude to restore there. The
paper's PESQ-aware term is not used. Validation:
``train/branch_pair.py`` (PESQ-WB, DNSMOS OVRL and LSD at 16 kHz beside each branch's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from ..audio.resample import decimate, resample_to_length
from ..audio.stft import SFISTFT
from ..losses import compressed_spectral_loss, missing_band, multi_resolution_stft_loss, multi_scale_mel_loss
from ..models.postnet import RATE as POSTNET_RATE
from ..models.postnet import PostNet, PostNetConfig
from ..models.quality import RATE as QUALITY_RATE
from .adversarial import AdversarialLossConfig, AdversarialStage, WaveformDiscriminatorConfig
from .branch_cache import RATE, BranchCacheConfig
from .branch_pair import BranchPairDataConfig, BranchPairStage
from .quality import SQATerm
from .trainer import OptimConfig, TrainerConfig


@dataclass
class PostNetLossConfig(AdversarialLossConfig):
    w_mel: float = 15.0
    w_mrstft: float = 1.0
    w_complex: float = 0.0  # the predictive branch's compressed complex MSE (train/predictor.py), 0: off
    w_magnitude: float = 0.0  # ... and its compressed magnitude MSE
    compress: float = 0.3
    w_sqa: float = 0.0  # > 0: -w_sqa x the learned OVRL of the output at 16 kHz (train/quality.py's SQATerm)
    # > 0: in bins the noisy input lacks (its power this many dB below the clean's: a band limit),
    # the complex term is dropped and only the magnitude is scored (losses.missing_band)
    missing_band_db: float = 0.0
    quality: str = "quality-small"  # the frozen SQA model (shipped name or file)
    kind: str = "lsgan"
    gan_start_step: int = 0


@dataclass
class PostNetStageConfig:
    model: PostNetConfig = field(default_factory=PostNetConfig)
    cache: BranchCacheConfig = field(default_factory=BranchCacheConfig)
    data: BranchPairDataConfig = field(default_factory=lambda: BranchPairDataConfig(generative="gap-generative"))
    discriminator: WaveformDiscriminatorConfig = field(default_factory=WaveformDiscriminatorConfig)
    loss: PostNetLossConfig = field(default_factory=PostNetLossConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3, betas=(0.8, 0.9), warmup_steps=100))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def to_postnet_rate(batch: np.ndarray, fs: int) -> np.ndarray:
    """``[B, n]`` at ``fs`` -> ``[B, n * 48000 / fs]`` (soxr)."""
    n = int(round(batch.shape[-1] * POSTNET_RATE / fs))
    return np.stack([resample_to_length(x, fs, POSTNET_RATE, n) for x in batch])


class PostNetStage(BranchPairStage, AdversarialStage):
    kind = "postnet"
    model_kind = "postnet"
    config_class = PostNetStageConfig

    def __init__(self, cfg: PostNetStageConfig) -> None:
        self.cfg = cfg
        self.check_branches()
        self.sqa = SQATerm(cfg.loss.quality)

    def build_model(self) -> nn.Module:
        return PostNet(self.cfg.model)

    def build_discriminator(self) -> nn.Module:
        return self.cfg.discriminator.build()

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        """``(noisy, clean, pred, gen)``, each ``[batch_size, n]`` float32 at 48 kHz."""
        for batch in super().batches(seed, rank, world, start_step):
            yield tuple(torch.from_numpy(to_postnet_rate(x.numpy(), RATE).astype(np.float32)) for x in batch)

    def generate(self, model: nn.Module, batch: Any, device: torch.device) -> dict[str, torch.Tensor]:
        noisy, clean, pred, gen = (x.to(device) for x in batch)
        # the waveform loss sees level-normalised signals; the floor (40 dB below speech level)
        # keeps a near-silent crop from being blown up to dominate the batch
        return {"real": clean, "fake": model(pred, gen), "scale": pred.std(-1, keepdim=True).clamp_min(1e-3),
                "noisy": noisy}

    def reconstruction(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        lc = self.cfg.loss
        fake, real = out["fake"] / out["scale"], out["real"] / out["scale"]
        mel = multi_scale_mel_loss(out["fake"], out["real"], POSTNET_RATE)
        loss, logs = lc.w_mel * mel, {"mel": mel.item()}
        if lc.w_mrstft:
            stft = multi_resolution_stft_loss(fake, real)
            loss, logs["mrstft"] = loss + lc.w_mrstft * stft, stft.item()
        if lc.w_complex or lc.w_magnitude:
            stft = SFISTFT()  # the PostNet's own 32 ms / 16 ms analysis at 48 kHz
            spec_real = stft.stft(real, POSTNET_RATE)
            weight = None
            if lc.missing_band_db:
                top = int(self.cfg.model.restore_hz / POSTNET_RATE * stft.n_fft(POSTNET_RATE))  # the cache's band
                spec_noisy = stft.stft(out["noisy"] / out["scale"], POSTNET_RATE)
                lacks = missing_band(spec_noisy, spec_real, lc.missing_band_db, top)
                weight, logs["missing_bins"] = 1.0 - lacks, lacks.mean().item()
            l_c, l_m = compressed_spectral_loss(stft.stft(fake, POSTNET_RATE), spec_real, lc.compress, weight)
            loss = loss + lc.w_complex * l_c + lc.w_magnitude * l_m
            logs.update(complex=l_c.item(), magnitude=l_m.item())
        if lc.w_sqa:  # heard at the cache's level, as the branches' DNSMOS was scored
            term, logs["sqa_ovrl"] = self.sqa(decimate(out["fake"], POSTNET_RATE // QUALITY_RATE), lc.w_sqa)
            loss = loss + term
        return loss, logs

    def combine(self, model: nn.Module, noisy: np.ndarray, pred: np.ndarray, gen: np.ndarray,
                device: torch.device) -> tuple[np.ndarray, dict[str, float]]:
        return model.enhance(pred, gen, RATE), {}
