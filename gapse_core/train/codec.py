"""Training stage ``codec``: the speech codec of the token branches (ParaGSE, hybrid).

Clean 16 kHz speech -> codec -> the same speech. Loss: multi-scale mel L1 x ``w_mel`` +
codebook commitment x ``w_commit`` (the EMA codebooks learn without gradients) + adversarial
(multi-period + multi-resolution STFT discriminators) and feature matching from
``gan_start_step``. Validation: copy-synthesis of held-out speakers (PESQ-WB, ESTOI, DNSMOS
OVRL) and codebook usage: the perplexity of each stream's tokens divided by the codebook size
(1 = every code used equally; a collapsed codebook scores near 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..models.codec import CODEC_RATE, Codec, CodecConfig
from .adversarial import ResynthesisLossConfig, SpeechResynthesisStage, WaveformDiscriminatorConfig
from .representations import SpeechDataConfig, resynthesis_scores
from .trainer import OptimConfig, TrainerConfig


@dataclass
class CodecLossConfig(ResynthesisLossConfig):
    w_commit: float = 1.0


@dataclass
class CodecStageConfig:
    model: CodecConfig = field(default_factory=CodecConfig)
    discriminator: WaveformDiscriminatorConfig = field(default_factory=WaveformDiscriminatorConfig)
    loss: CodecLossConfig = field(default_factory=CodecLossConfig)
    data: SpeechDataConfig = field(default_factory=SpeechDataConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=5e-4, betas=(0.8, 0.9), warmup_steps=200))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def codebook_usage(codes: torch.Tensor, codebook_size: int) -> list[float]:
    """Per stream of ``codes [N, streams]``: token perplexity / codebook size (0..1)."""
    out = []
    for s in range(codes.shape[-1]):
        p = torch.bincount(codes[:, s].flatten(), minlength=codebook_size).float()
        p = p / p.sum()
        out.append(float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum()) / codebook_size))
    return out


class CodecStage(SpeechResynthesisStage):
    kind = "codec"
    config_class = CodecStageConfig
    data_salt = 19

    def __init__(self, cfg: CodecStageConfig) -> None:
        self.cfg = cfg

    def build_model(self) -> nn.Module:
        return Codec(self.cfg.model)

    def generate(self, model: nn.Module, batch: Any, device: torch.device) -> dict[str, torch.Tensor]:
        clean = batch.to(device)
        fake, q = model(clean)
        return {"real": clean, "fake": fake, "commit": q.commit_loss}

    def reconstruction(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        loss, logs = self.resynthesis_loss(out["fake"], out["real"], CODEC_RATE)
        return loss + self.cfg.loss.w_commit * out["commit"], {**logs, "commit": out["commit"].item()}

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        model.eval()
        codes = []

        def copy_synthesis(x: np.ndarray) -> np.ndarray:
            y, q = model(torch.from_numpy(x)[None].to(device))
            codes.append(q.codes[0].cpu())
            return y[0].float().cpu().numpy()

        out = resynthesis_scores(copy_synthesis, self.validation_crops())
        usage = codebook_usage(torch.cat(codes), self.cfg.model.quantizer.codebook_size)
        out.update(codebook_usage=float(np.mean(usage)), kbps=model.bitrate / 1000)
        model.train()
        out["score"] = out["ovrl"] + out["pesq"] / 2
        return out
