"""Training stage of the predictive branch (TF-GridNet complex spectral mapping).

Loss (GAP-URGENet's predictor): power-compressed (c=0.3) complex MSE x30 + compressed
magnitude MSE x70 + negative SNR (dB) x1, on signals normalised by the noisy input's level.
Optionally (``loss.w_sqa`` > 0, for a fine-tune) minus ``w_sqa`` x the OVRL that the
learned quality predictor (``models/quality.py``, a DNSMOS imitation) hears in the 16 kHz
batches' output: the hybrid paper's SQA term, here on a single branch.

A frozen quality predictor is fooled: pushed against it, the predictor learns what pleases the
imitation, and DNSMOS itself falls (``checkpoints/predictor-small.md``). With
``loss.sqa_critic`` the quality predictor becomes a *critic* that keeps learning, as in
MetricGAN+: every 16 kHz step, DNSMOS scores ``critic_clips`` of the predictor's current
outputs, and the critic takes one MSE step towards those scores and towards a replay of
``critic_replay`` earlier ones, before the predictor takes its step against it. Whatever the
predictor finds that pleases the critic but not DNSMOS is scored by DNSMOS the next step.
The trainer runs this as a GAN stage (the critic is its discriminator, saved in ``last.pt``;
the replay is not, and refills after a resume).
Validation: PESQ-WB and SI-SDR on held-out speakers and noises; the score that picks
``best.pt`` is ``pesq + si_sdr / 10``.
"""

from __future__ import annotations

from collections import deque
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
from .quality import SQATerm, score_loss
from .trainer import OptimConfig, TrainerConfig


@dataclass
class PredictorLossConfig:
    compress: float = 0.3
    w_complex: float = 30.0
    w_magnitude: float = 70.0
    w_snr: float = 1.0
    w_sqa: float = 0.0  # > 0 adds -w_sqa x learned OVRL on 16 kHz batches (a fine-tune term)
    quality: str = "quality-small"  # the SQA model (shipped name or file)
    sqa_critic: bool = False  # the SQA model keeps learning DNSMOS on the current outputs (MetricGAN+)
    critic_clips: int = 2  # outputs per 16 kHz step that DNSMOS scores for the critic (0.35 s each)
    critic_replay: int = 64  # earlier scored outputs kept to replay to the critic


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
        self.sqa = SQATerm(cfg.loss.quality)

    def build_model(self) -> nn.Module:
        return Predictor(self.cfg.model)

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        return batch_stream(self.cfg.data, seed, rank, start_step, self.cfg.trainer.num_workers)

    # The GAN wiring (trainer.GANStage): used only with ``loss.sqa_critic``.
    gan_start_step = 0
    disc_start_step = 0

    def build_discriminator(self) -> nn.Module | None:
        """The online SQA critic (``loss.sqa_critic``), starting from ``loss.quality``; else None."""
        if not self.cfg.loss.sqa_critic:
            return None
        from ..checkpoints import load_model

        self._replay: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=self.cfg.loss.critic_replay)
        self._replay_rng = np.random.default_rng([self.cfg.trainer.seed, 97])
        return load_model(self.cfg.loss.quality)[0].train()

    def generate(self, model: nn.Module, batch: Any, device: torch.device) -> dict[str, Any]:
        """The predictor's forward on ``(noisy [B, n], clean [B, n], fs)``: spectra ``[B, F, T]``,
        level-normalised waveforms ``[B, n]`` and the level ``scale [B, 1]``."""
        noisy, clean, fs = batch
        noisy, clean = noisy.to(device), clean.to(device)
        spec, scale = model(noisy, fs, spectrum=True)  # [B, F, T], [B, 1]
        target = clean / scale
        return {"spec": spec, "ref_spec": self.stft.stft(target, fs), "est": self.stft.istft(spec, fs, noisy.shape[-1]),
                "target": target, "scale": scale, "fs": fs}

    def generator_loss(self, disc: nn.Module | None, out: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """The compressed spectral + SNR loss, minus ``w_sqa`` x the SQA OVRL on 16 kHz batches
        (heard by the critic ``disc`` when there is one, else by the frozen ``loss.quality``)."""
        lc = self.cfg.loss
        l_c, l_m = compressed_spectral_loss(out["spec"], out["ref_spec"], lc.compress)
        l_snr = snr_loss(out["est"], out["target"])
        loss = lc.w_complex * l_c + lc.w_magnitude * l_m + lc.w_snr * l_snr
        logs = {"complex": l_c.item(), "magnitude": l_m.item(), "snr": -l_snr.item()}
        if lc.w_sqa and out["fs"] == QUALITY_RATE:  # it hears level: undo the normalisation
            term, logs["sqa_ovrl"] = self.sqa(out["est"] * out["scale"], lc.w_sqa, critic=disc)
            loss = loss + term
        return loss, logs

    def discriminator_loss(self, disc: nn.Module, out: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """The critic's MSE to DNSMOS (OVRL weighted 2, as in ``train/quality.py``) on
        ``critic_clips`` fresh outputs and as many replayed ones; zero on other rates."""
        # no critic step: a zero loss that still reaches every parameter, for DDP
        nothing = sum(p.sum() for p in disc.parameters()) * 0.0
        if out["fs"] != QUALITY_RATE:  # DNSMOS hears 16 kHz
            return nothing, {}
        fresh = (out["est"] * out["scale"]).detach().float().cpu().numpy()[: self.cfg.loss.critic_clips]
        fresh = fresh[np.isfinite(fresh).all(axis=1) & (np.abs(fresh).max(axis=1) > 0)]  # what DNSMOS can score
        scores = metrics.dnsmos_windows(fresh) if len(fresh) else np.zeros((0, 3))
        replayed = list(self._replay)
        if replayed:
            pick = self._replay_rng.choice(len(replayed), size=min(len(replayed), max(len(fresh), 1)), replace=False)
            replayed = [replayed[i] for i in pick]
        self._replay.extend(zip(fresh, scores))
        clips = list(fresh) + [w for w, _ in replayed]
        if not clips:
            return nothing, {}
        n = min(len(c) for c in clips)
        target = np.concatenate([scores, np.array([s for _, s in replayed]).reshape(-1, 3)])
        device = next(disc.parameters()).device
        loss, err = score_loss(disc(torch.from_numpy(np.stack([c[:n] for c in clips])).to(device)),
                               torch.from_numpy(target).float().to(device), w_ovrl=2.0)  # as train/quality.py weights it
        logs = {"critic_mse_ovrl": err[0].item()}
        if len(scores):
            logs["dnsmos_ovrl"] = float(scores[:, 0].mean())  # what DNSMOS itself hears in this step's outputs
        return loss, logs

    def loss(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        return self.generator_loss(None, self.generate(model, batch, device))

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
