"""Training stage ``vocoder``: GAP-URGENet's Vocos vocoder on clean speech (copy-synthesis).

The frozen SSL teacher turns clean 16 kHz speech into acoustic representations (first
transformer layer, layer-normed, on the centred frame grid); the vocoder learns to turn them
back into that speech. Loss (Vocos / GAP-URGENet): multi-scale log-mel L1 x ``w_mel`` (+ APNet's
phase-derivative errors x ``w_phase``, off by default) + adversarial (multi-period +
multi-resolution STFT discriminators) x ``w_adv`` + feature matching x ``w_fm``. Validation:
copy-synthesis of held-out speakers' clean speech scored with PESQ-WB, ESTOI and DNSMOS OVRL
against the clean reference (and the clean speech's own OVRL, the ceiling); ``score`` = OVRL +
PESQ / 2 picks ``best.pt``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import metrics
from ..models.ssl import CENTRED_OFFSET, SSL_RATE
from ..models.vocoder import LOG_MEL, LogMelFrames, Vocoder, VocoderConfig
from .adversarial import ResynthesisLossConfig, SpeechResynthesisStage, WaveformDiscriminatorConfig
from .representations import SpeechDataConfig, frozen, resynthesis_scores
from .trainer import OptimConfig, TrainerConfig


@dataclass
class VocoderLossConfig(ResynthesisLossConfig):
    """The vocoder's losses: the shared resynthesis terms, nothing of its own."""


@dataclass
class VocoderStageConfig:
    # shipped name, checkpoint file or save_pretrained WavLM folder; "log-mel": Vocos's own
    # input (models.vocoder.LogMelFrames, backbone.input_dim mel bands) for comparison
    teacher: str = "ssl-small"
    model: VocoderConfig = field(default_factory=VocoderConfig)
    discriminator: WaveformDiscriminatorConfig = field(default_factory=WaveformDiscriminatorConfig)
    loss: VocoderLossConfig = field(default_factory=VocoderLossConfig)
    data: SpeechDataConfig = field(default_factory=SpeechDataConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=5e-4, betas=(0.8, 0.9), warmup_steps=200))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


class VocoderStage(SpeechResynthesisStage):
    kind = "vocoder"
    config_class = VocoderStageConfig
    data_salt = 11

    def __init__(self, cfg: VocoderStageConfig) -> None:
        self.cfg = cfg
        self._teacher: nn.Module | None = None
        self._ceiling: float | None = None

    def teacher(self, device: torch.device) -> nn.Module:
        if self._teacher is None:
            if self.cfg.teacher == LOG_MEL:
                self._teacher = LogMelFrames(self.cfg.model.backbone.input_dim).to(device)
            else:
                self._teacher = frozen(self.cfg.teacher, device)
            if self._teacher.dim != self.cfg.model.backbone.input_dim:
                raise ValueError(f"teacher features have {self._teacher.dim} channels but the vocoder's "
                                 f"backbone.input_dim is {self.cfg.model.backbone.input_dim}")
        return self._teacher

    def build_model(self) -> nn.Module:
        return Vocoder(self.cfg.model)

    def generate(self, model: nn.Module, batch: Any, device: torch.device) -> dict[str, torch.Tensor]:
        clean = batch.to(device)
        with torch.no_grad():
            feats = self.teacher(device).centred(clean).acoustic
        fake = model(feats)[:, CENTRED_OFFSET: CENTRED_OFFSET + clean.shape[-1]]
        return {"real": clean, "fake": fake}

    def reconstruction(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return self.resynthesis_loss(out["fake"], out["real"], SSL_RATE)

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        crops = self.validation_crops()
        if self._ceiling is None:
            self._ceiling = float(np.mean([metrics.dnsmos(x, SSL_RATE)["ovrl"] for x in crops]))
        model.eval()
        teacher = self.teacher(device)

        def copy_synthesis(x: np.ndarray) -> np.ndarray:
            wave = torch.from_numpy(x)[None].to(device)
            return model.synthesize(teacher.centred(wave).acoustic, len(x))[0].float().cpu().numpy()

        out = {**resynthesis_scores(copy_synthesis, crops), "ovrl_clean": self._ceiling}
        model.train()
        out["score"] = out["ovrl"] + out["pesq"] / 2
        return out
