"""Training stage ``hybrid``: the hybrid system's generative branch (token LM + DPRNN), trained jointly.

For degraded 16 kHz speech (every distortion of the simulation) and its clean target:

* the frozen SSL encoder (``ssl``: DeWavLM-Omni) gives the degraded speech's phonetic
  features, the LM's prefix (lost packets get the mask embedding, as at inference);
* the frozen residual-VQ codec (``codec``) gives the clean speech's first-layer tokens, the
  LM's targets (teacher forcing);
* the DPRNN masks the degraded STFT, cross-attending to the LM's hidden states.

Loss (hybrid paper): ``w_nll`` x NLL of the tokens + ``w_complex`` x complex MSE +
``w_magnitude`` x magnitude MSE, the spectral terms on power-compressed (c = 0.3) spectra of
signals normalised by the degraded input's level (the predictive branch's loss functions).
The paper adds 0.01 x PMSQE; gapse has no PMSQE implementation, so that term is left out.

Validation on held-out speakers runs the branch as at inference (greedy decoding with the KV
cache, then the mask): PESQ-WB and SI-SDR of its output beside the degraded input's, and
the token accuracy of the decoded tokens and of teacher forcing; ``score`` = PESQ + SI-SDR / 10.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import metrics
from ..losses import compressed_spectral_loss
from ..models.hybrid_generative import HybridBranch, HybridConfig
from ..models.ssl import SSL_RATE, lost_packets
from .representations import DegradedDataConfig, degraded_stream, frozen, validation_pairs
from .trainer import OptimConfig, TrainerConfig


@dataclass
class HybridLossConfig:
    w_nll: float = 1.0
    w_complex: float = 0.1
    w_magnitude: float = 0.9
    compress: float = 0.3
    # Scheduled sampling (two-pass, as in "parallel scheduled sampling"): this fraction of the
    # LM's input tokens are replaced by its own teacher-forced argmax predictions, so the LM
    # (and the DPRNN reading its hidden states) learns from inputs like those of greedy decoding.
    sampling: float = 0.0


@dataclass
class HybridStageConfig:
    ssl: str = "dewavlm-small"  # the frozen SSL encoder (shipped name, file or WavLM folder)
    codec: str = "codec-rvq-small"  # a residual-VQ codec: its first layer's tokens are the targets
    model: HybridConfig = field(default_factory=HybridConfig)
    data: DegradedDataConfig = field(default_factory=DegradedDataConfig)
    loss: HybridLossConfig = field(default_factory=HybridLossConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=5e-4, warmup_steps=200))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


class HybridStage:
    kind = "hybrid"
    config_class = HybridStageConfig

    def __init__(self, cfg: HybridStageConfig) -> None:
        self.cfg = cfg
        self._frozen: dict[str, nn.Module] = {}
        self._val: list | None = None

    def build_model(self) -> nn.Module:
        return HybridBranch(self.cfg.model)

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        return degraded_stream(self.cfg.data, [seed, rank, start_step, 37], self.cfg.trainer.num_workers)

    def _frozen_parts(self, device: torch.device) -> tuple[nn.Module, nn.Module]:
        if not self._frozen:
            codec = frozen(self.cfg.codec, device)
            if codec.cfg.quantizer.kind != "residual":
                raise ValueError(f"{self.cfg.codec}: the hybrid's targets are a residual-VQ codec's first layer, "
                                 f"this codec's quantizer is {codec.cfg.quantizer.kind!r}")
            if codec.cfg.quantizer.codebook_size != self.cfg.model.lm.codebook_size:
                raise ValueError(f"model.lm.codebook_size ({self.cfg.model.lm.codebook_size}) must equal the "
                                 f"codec's ({codec.cfg.quantizer.codebook_size})")
            self._frozen = {"ssl": frozen(self.cfg.ssl, device), "codec": codec}
        return self._frozen["ssl"], self._frozen["codec"]

    @torch.no_grad()
    def _inputs(self, noisy: torch.Tensor, clean: torch.Tensor, device: torch.device):
        """``(ssl [B, T, D], tokens [B, T])`` with ``T = ceil(n / 320) + 1`` for both."""
        ssl, codec = self._frozen_parts(device)
        feats = ssl.centred(noisy, lost_packets(noisy, SSL_RATE)).phonetic
        tokens = codec.tokens(clean)[..., 0]
        t = min(feats.shape[1], tokens.shape[1])
        return feats[:, :t], tokens[:, :t]

    def loss(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        noisy, clean = (x.to(device) for x in batch)
        feats, tokens = self._inputs(noisy, clean, device)
        branch = getattr(model, "module", model)  # (DDP wraps the model)
        inputs = self._sampled_inputs(branch, feats, tokens)
        logits, est, _, scale = model(noisy, feats, inputs)
        nll = F.cross_entropy(logits.flatten(0, 1), tokens.flatten())
        ref = branch.mask.stft(clean / scale)
        l_c, l_m = compressed_spectral_loss(est, ref, self.cfg.loss.compress)
        lc = self.cfg.loss
        loss = lc.w_nll * nll + lc.w_complex * l_c + lc.w_magnitude * l_m
        acc = (logits.argmax(-1) == tokens).float().mean().item()
        logs = {"nll": nll.item(), "complex": l_c.item(), "magnitude": l_m.item(), "token_acc": acc}
        if inputs is not tokens:
            logs["sampled"] = (inputs != tokens).float().mean().item()
        return loss, logs

    def _sampled_inputs(self, branch: HybridBranch, feats: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The LM's input tokens ``[B, T]``: the clean ones, a ``loss.sampling`` share of them
        swapped for the LM's own predictions of the same positions (a first, gradient-free pass).

        ``HybridBranch`` feeds ``inputs[:, :-1]`` after BOS, so a swapped ``inputs[:, t]`` is what
        the LM guessed for token ``t``; the targets stay the clean tokens.
        """
        rate = self.cfg.loss.sampling
        if rate <= 0:
            return tokens
        with torch.no_grad():
            guess = branch.lm(feats, tokens)[0].argmax(-1)
        swap = torch.rand(tokens.shape, device=tokens.device) < rate
        return torch.where(swap, guess, tokens)

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        if self._val is None:
            self._val = validation_pairs(self.cfg.data)
        model.eval()
        rows = []
        for noisy, clean in self._val:
            noisy, clean = noisy.to(device), clean.to(device)
            feats, tokens = self._inputs(noisy, clean, device)
            forced = (model.lm(feats, tokens)[0].argmax(-1) == tokens).float().mean().item()
            y, _, generated = model.enhance_16k(noisy, feats)  # as at inference: greedy decoding, then the mask
            y, x, c = (a[0].float().cpu().numpy() for a in (y, noisy, clean))
            rows.append({"pesq": metrics.pesq_wb(y, c, SSL_RATE), "si_sdr": metrics.si_sdr(y, c),
                         "pesq_noisy": metrics.pesq_wb(x, c, SSL_RATE), "si_sdr_noisy": metrics.si_sdr(x, c),
                         "token_acc": (generated == tokens).float().mean().item(), "token_acc_forced": forced})
        model.train()
        out = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
        out["score"] = out["pesq"] + out["si_sdr"] / 10
        return out
