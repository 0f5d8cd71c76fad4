"""Training stage ``adapter``: enhanced phonetic + noisy acoustic -> enhanced acoustic representations.

Inputs come from the frozen DeWavLM-Omni student hearing degraded speech (its phonetic
``R_P`` and acoustic ``R_A0`` streams); the target is the frozen teacher's acoustic stream
of the clean speech, which is what the vocoder was trained to synthesise from. Loss
(GAP-URGENet): MSE x ``w_mse`` + representation-domain adversarial x ``w_adv`` (a 1-D conv
discriminator over feature frames) + feature matching x ``w_fm``.

Validation on held-out speakers: the adapter's MSE beside that of ``R_A0`` (using the noisy
acoustic stream as it is); with a ``vocoder`` set, also the whole generative branch's PESQ-WB,
ESTOI and DNSMOS OVRL against the clean speech (and then ``score`` = OVRL + PESQ / 2, else
-MSE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..models.adapter import Adapter, AdapterConfig
from ..models.gap_generative import GAPGenerative
from ..models.ssl import SSL_RATE, lost_packets
from ..nn.discriminators import FeatureDiscriminator
from .adversarial import AdversarialLossConfig, AdversarialStage
from .representations import (DegradedDataConfig, degraded_stream, frozen, resynthesis_scores,
                              validation_pairs)
from .trainer import OptimConfig, TrainerConfig


@dataclass
class FeatureDiscriminatorConfig:
    channels: int = 128
    n_layers: int = 3


@dataclass
class AdapterLossConfig(AdversarialLossConfig):
    w_mse: float = 10.0
    w_adv: float = 0.1
    w_fm: float = 0.1
    kind: str = "lsgan"


@dataclass
class AdapterStageConfig:
    teacher: str = "ssl-small"
    dewavlm: str = "dewavlm-small"
    vocoder: str = ""  # set to validate the whole branch on waveforms
    model: AdapterConfig = field(default_factory=AdapterConfig)
    discriminator: FeatureDiscriminatorConfig = field(default_factory=FeatureDiscriminatorConfig)
    loss: AdapterLossConfig = field(default_factory=AdapterLossConfig)
    data: DegradedDataConfig = field(default_factory=DegradedDataConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=5e-4, betas=(0.8, 0.9), warmup_steps=200))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


class AdapterStage(AdversarialStage):
    kind = "adapter"
    config_class = AdapterStageConfig

    def __init__(self, cfg: AdapterStageConfig) -> None:
        self.cfg = cfg
        self._frozen: dict[str, nn.Module] = {}
        self._val: list | None = None

    def frozen(self, role: str, device: torch.device) -> nn.Module:
        if role not in self._frozen:
            self._frozen[role] = frozen(getattr(self.cfg, role), device)
        return self._frozen[role]

    def build_model(self) -> nn.Module:
        return Adapter(self.cfg.model)

    def build_discriminator(self) -> nn.Module:
        d = self.cfg.discriminator
        return FeatureDiscriminator(self.cfg.model.backbone.input_dim, d.channels, d.n_layers)

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        return degraded_stream(self.cfg.data, [seed, rank, start_step, 17], self.cfg.trainer.num_workers)

    @torch.no_grad()
    def _inputs(self, noisy: torch.Tensor, clean: torch.Tensor, device: torch.device):
        """``(R_P, R_A0)`` of the student on the degraded speech and the teacher's clean ``R_A``."""
        student = self.frozen("dewavlm", device).centred(noisy, lost_packets(noisy))
        target = self.frozen("teacher", device).centred(clean).acoustic
        return student.phonetic, student.acoustic, target

    def generate(self, model: nn.Module, batch: Any, device: torch.device) -> dict[str, torch.Tensor]:
        noisy, clean = (x.to(device) for x in batch)
        phonetic, acoustic, target = self._inputs(noisy, clean, device)
        return {"real": target, "fake": model(phonetic, acoustic)}

    def reconstruction(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        mse = F.mse_loss(out["fake"], out["real"])
        return self.cfg.loss.w_mse * mse, {"mse": mse.item()}

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        if self._val is None:
            self._val = validation_pairs(self.cfg.data)
        model.eval()
        mse, mse_in = [], []
        for noisy, clean in self._val:
            phonetic, acoustic, target = self._inputs(noisy.to(device), clean.to(device), device)
            mse.append(F.mse_loss(model(phonetic, acoustic), target).item())
            mse_in.append(F.mse_loss(acoustic, target).item())
        out = {"mse": float(np.mean(mse)), "mse_noisy_acoustic": float(np.mean(mse_in))}
        out["score"] = -out["mse"]
        if self.cfg.vocoder:
            branch = GAPGenerative(self.frozen("dewavlm", device), model, self.frozen("vocoder", device))
            out.update(resynthesis_scores(lambda x: branch.enhance(x, SSL_RATE), [n[0].numpy() for n, _ in self._val],
                                          [c[0].numpy() for _, c in self._val]))
            out["score"] = out["ovrl"] + out["pesq"] / 2
        model.train()
        return out
