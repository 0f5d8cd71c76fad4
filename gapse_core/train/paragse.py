"""Training stage ``paragse``: ParaGSE's parallel token predictor over a frozen group-VQ codec.

Degraded 16 kHz speech (every distortion of the simulation) and its clean target both go
through the frozen codec's encoder and quantizer; the predictor sees the degraded speech and
its tokens and learns the clean tokens with cross-entropy averaged over the groups.
Validation on held-out speakers: clean-token accuracy per group, beside the accuracy of
simply copying the degraded speech's tokens (what prediction must beat); ``score`` = mean
accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..models.paragse import ParaGSE, ParaGSEConfig, check_codec
from .representations import DegradedDataConfig, degraded_stream, frozen, validation_pairs
from .trainer import OptimConfig, TrainerConfig


@dataclass
class ParaGSEStageConfig:
    codec: str = "codec-small"  # a group-VQ codec checkpoint (shipped name or file)
    model: ParaGSEConfig = field(default_factory=ParaGSEConfig)
    data: DegradedDataConfig = field(default_factory=DegradedDataConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-3, warmup_steps=200))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


class ParaGSEStage:
    kind = "paragse"
    config_class = ParaGSEStageConfig

    def __init__(self, cfg: ParaGSEStageConfig) -> None:
        self.cfg = cfg
        self._codec: nn.Module | None = None
        self._val: list | None = None

    def codec(self, device: torch.device) -> nn.Module:
        if self._codec is None:
            codec = frozen(self.cfg.codec, device)
            check_codec(codec.cfg, self.cfg.model, self.cfg.codec)
            self._codec = codec
        return self._codec

    def build_model(self) -> nn.Module:
        return ParaGSE(self.cfg.model)

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        return degraded_stream(self.cfg.data, [seed, rank, start_step, 23], self.cfg.trainer.num_workers)

    def _tokens(self, noisy: torch.Tensor, clean: torch.Tensor, device: torch.device):
        with torch.no_grad():
            codec = self.codec(device)
            return codec.tokens(noisy), codec.tokens(clean)  # [B, T, G] each

    def loss(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        noisy, clean = (x.to(device) for x in batch)
        noisy_codes, clean_codes = self._tokens(noisy, clean, device)
        logits = model(noisy, noisy_codes)  # [B, T, G, K]
        loss = F.cross_entropy(logits.flatten(0, 2), clean_codes.flatten())
        acc = (logits.argmax(-1) == clean_codes).float().mean().item()
        return loss, {"token_acc": acc}

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        if self._val is None:
            self._val = validation_pairs(self.cfg.data)
        model.eval()
        hits, copies, total = 0.0, 0.0, 0
        for noisy, clean in self._val:
            noisy, clean = noisy.to(device), clean.to(device)
            noisy_codes, clean_codes = self._tokens(noisy, clean, device)
            hits += float((model.predict(noisy, noisy_codes) == clean_codes).sum())
            copies += float((noisy_codes == clean_codes).sum())
            total += clean_codes.numel()
        model.train()
        return {"token_acc": hits / total, "copy_acc": copies / total, "score": hits / total}
