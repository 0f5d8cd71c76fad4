"""Training stage of the predictive branch (TF-GridNet complex spectral mapping).

Loss (GAP-URGENet's predictor): power-compressed (c=0.3) complex MSE x30 + compressed
magnitude MSE x70 + negative SNR (dB) x1, on signals normalised by the noisy input's level.
Optionally (``loss.w_sqa`` > 0, for a fine-tune) minus ``w_sqa`` x the OVRL that the frozen
learned quality predictor (``models/quality.py``, a DNSMOS imitation) hears in the 16 kHz
batches' output: the hybrid paper's SQA term, here on a single branch.
Validation: PESQ-WB and SI-SDR on held-out speakers and noises; the score that picks
``best.pt`` is ``pesq + si_sdr / 10``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from .. import metrics
from ..audio.stft import SFISTFT
from ..losses import compressed_spectral_loss, snr_loss
from ..models.predictor import Predictor, PredictorConfig
from ..models.quality import RATE as QUALITY_RATE
from .data import DataConfig, batch_stream, validation_set
from .representations import frozen
from .trainer import OptimConfig, TrainerConfig


@dataclass
class PredictorLossConfig:
    compress: float = 0.3
    w_complex: float = 30.0
    w_magnitude: float = 70.0
    w_snr: float = 1.0
    w_sqa: float = 0.0  # > 0 adds -w_sqa x learned OVRL on 16 kHz batches (a fine-tune term)
    quality: str = "quality-small"  # the frozen SQA model (shipped name or file)


@dataclass
class PredictorStageConfig:
    model: PredictorConfig = field(default_factory=PredictorConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: PredictorLossConfig = field(default_factory=PredictorLossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


class PredictorStage:
    kind = "predictor"
    config_class = PredictorStageConfig

    def __init__(self, cfg: PredictorStageConfig) -> None:
        self.cfg = cfg
        self.stft = SFISTFT(cfg.model.win_ms, cfg.model.hop_ms)
        self._val: list[dict] | None = None
        self._quality: nn.Module | None = None

    def build_model(self) -> nn.Module:
        return Predictor(self.cfg.model)

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        return batch_stream(self.cfg.data, seed, rank, start_step, self.cfg.trainer.num_workers)

    def loss(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        noisy, clean, fs = batch
        noisy, clean = noisy.to(device), clean.to(device)
        spec, scale = model(noisy, fs, spectrum=True)  # [B, F, T], [B, 1]
        target = clean / scale
        ref_spec = self.stft.stft(target, fs)
        est = self.stft.istft(spec, fs, noisy.shape[-1])
        l_c, l_m = compressed_spectral_loss(spec, ref_spec, self.cfg.loss.compress)
        l_snr = snr_loss(est, target)
        lc = self.cfg.loss
        loss = lc.w_complex * l_c + lc.w_magnitude * l_m + lc.w_snr * l_snr
        logs = {"complex": l_c.item(), "magnitude": l_m.item(), "snr": -l_snr.item()}
        if lc.w_sqa and fs == QUALITY_RATE:
            if self._quality is None:
                self._quality = frozen(lc.quality, device)
            ovrl = self._quality(est * scale)[:, 0].mean()  # it hears level: undo the normalisation
            loss = loss - lc.w_sqa * ovrl
            logs["sqa_ovrl"] = ovrl.item()
        return loss, logs

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        if self._val is None:
            self._val = validation_set(self.cfg.data)
        model.eval()
        pesq, sdr, ovrl, pesq_in, sdr_in = [], [], [], [], []
        for ex in self._val:
            fs = ex["fs"]
            y = model(torch.from_numpy(ex["noisy"])[None].to(device), fs)[0].float().cpu().numpy()
            pesq.append(metrics.pesq_wb(y, ex["clean"], fs))
            sdr.append(metrics.si_sdr(y, ex["clean"]))
            ovrl.append(metrics.dnsmos(y, fs)["ovrl"])  # the real DNSMOS (an SQA fine-tune optimises an imitation)
            pesq_in.append(metrics.pesq_wb(ex["noisy"], ex["clean"], fs))
            sdr_in.append(metrics.si_sdr(ex["noisy"], ex["clean"]))
        out = {"pesq": float(np.nanmean(pesq)), "si_sdr": float(np.mean(sdr)),
               "pesq_noisy": float(np.nanmean(pesq_in)), "si_sdr_noisy": float(np.mean(sdr_in))}
        out["ovrl"] = float(np.mean(ovrl))
        out["score"] = out["pesq"] + out["si_sdr"] / 10
        return out
