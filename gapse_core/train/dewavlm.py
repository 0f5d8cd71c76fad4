"""Training stage ``dewavlm``: DeWavLM-Omni, the SSL encoder distilled to see through distortions.

PASE's representation distillation, extended (GAP-URGENet) to every distortion of the
simulation: a student copy of the frozen teacher encoder hears degraded speech (noise,
reverberation, band limits, clipping, codecs, packet loss) and learns, with MSE, to output
the teacher's representations of the clean speech: the acoustic (first layer) and phonetic
(last layer) streams, each layer-normed. Lost packets (:func:`models.ssl.lost_packets`) are
replaced by the mask embedding, so the student learns concealment from masked prediction.

Validation on held-out speakers: MSE of each stream against the teacher's clean
representations, beside the teacher's own MSE when it hears the degraded speech (what
distillation must beat); ``score`` = -(acoustic + phonetic MSE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..models.ssl import SSLEncoder, centred_frame_mask, centred_input, frames, lost_packets
from .representations import DegradedDataConfig, degraded_stream, frozen, validation_pairs
from .trainer import OptimConfig, TrainerConfig


@dataclass
class DistillLossConfig:
    w_acoustic: float = 1.0
    w_phonetic: float = 1.0


@dataclass
class DeWavLMStageConfig:
    teacher: str = "ssl-small"
    data: DegradedDataConfig = field(default_factory=DegradedDataConfig)
    loss: DistillLossConfig = field(default_factory=DistillLossConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=2e-4, warmup_steps=200))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def representation_mse(student, teacher) -> tuple[torch.Tensor, torch.Tensor]:
    """MSE of the acoustic and of the phonetic streams (``SSLFeatures`` of the same frames)."""
    return F.mse_loss(student.acoustic, teacher.acoustic), F.mse_loss(student.phonetic, teacher.phonetic)


class DeWavLMStage:
    kind = "dewavlm"
    model_kind = "ssl"  # the student is an SSLEncoder like its teacher
    config_class = DeWavLMStageConfig

    def __init__(self, cfg: DeWavLMStageConfig) -> None:
        self.cfg = cfg
        self._teacher: nn.Module | None = None
        self._val: list | None = None

    def teacher(self, device: torch.device) -> SSLEncoder:
        if self._teacher is None:
            self._teacher = frozen(self.cfg.teacher, device)
        return self._teacher

    def build_model(self) -> nn.Module:
        """The student starts as an exact, trainable copy of the teacher."""
        student = frozen(self.cfg.teacher).requires_grad_(True)
        return student.train()

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        return degraded_stream(self.cfg.data, [seed, rank, start_step, 13], self.cfg.trainer.num_workers)

    def _streams(self, model: nn.Module, noisy: torch.Tensor, clean: torch.Tensor, device: torch.device):
        with torch.no_grad():
            target = self.teacher(device).centred(clean)
        x = centred_input(noisy)  # through forward (not .centred) so DistributedDataParallel sees the call
        return model(x, centred_frame_mask(lost_packets(noisy), frames(x.shape[-1]))), target

    def loss(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        noisy, clean = (x.to(device) for x in batch)
        student, target = self._streams(model, noisy, clean, device)
        l_a, l_p = representation_mse(student, target)
        lc = self.cfg.loss
        return lc.w_acoustic * l_a + lc.w_phonetic * l_p, {"mse_acoustic": l_a.item(), "mse_phonetic": l_p.item()}

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        if self._val is None:
            self._val = validation_pairs(self.cfg.data)
        model.eval()
        sums = np.zeros(4)
        teacher = self.teacher(device)
        for noisy, clean in self._val:
            noisy, clean = noisy.to(device), clean.to(device)
            student, target = self._streams(model, noisy, clean, device)
            base = teacher.centred(noisy, lost_packets(noisy))
            sums += [*(v.item() for v in representation_mse(student, target)),
                     *(v.item() for v in representation_mse(base, target))]
        model.train()
        a, p, ta, tp = (float(v) for v in sums / len(self._val))
        return {"mse_acoustic": a, "mse_phonetic": p, "teacher_mse_acoustic": ta, "teacher_mse_phonetic": tp,
                "score": -(a + p)}
