"""Training stage ``ssl``: HuBERT/WavLM-style masked prediction, so gapse has its own SSL encoder.

No pretrained WavLM can be downloaded here, so gapse pretrains a small one (a real WavLM from
disk replaces it through ``checkpoints.load_model``). First HuBERT iteration:

1. **Targets**: k-means clusters (``n_clusters``) of 39-dim MFCC (+ deltas) frames at the
   encoder's 50 Hz frame rate (25 ms windows, 20 ms hop, aligned with the CNN's frames),
   fitted once on training speech when the model is built and stored in the checkpoint.
2. **Masking**: span starts drawn with probability ``mask_prob``, each masking ``mask_span``
   frames (HuBERT: 0.08 and 10, about half the frames); masked frames get the learnable mask
   embedding before the transformer.
3. **Utterance mixing** (WavLM): with probability ``mix_prob`` a crop of another speaker's
   utterance (up to half the length, energy ratio U[-5, 5] dB) is added; the targets stay
   those of the main utterance, so the encoder learns to attend to one speaker.
4. **Loss**: cross-entropy of the clusters at masked frames only.

Validation: cluster accuracy on masked frames of held-out speakers, beside the accuracy of
always answering the most frequent cluster.
The trained ``ssl_pretrain`` checkpoint holds the encoder (``model.encoder``) and the head;
:func:`export_encoder` writes the encoder alone as an ``"ssl"`` checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.corpus import load_corpus
from ..data.mixer import Mixer, MixtureConfig
from ..losses import mel_filterbank
from ..models.ssl import FRAME_HOP, FRAME_WIN, SSL_RATE, SSLConfig, SSLEncoder, frames
from .trainer import OptimConfig, TrainerConfig


@dataclass
class MaskedPredictionConfig:
    encoder: SSLConfig = field(default_factory=SSLConfig)
    n_clusters: int = 64


def mfcc_frames(wave: torch.Tensor, n_mfcc: int = 13, n_mels: int = 40) -> torch.Tensor:
    """``wave [B, n]`` at 16 kHz -> ``[B, frames(n), 3 * n_mfcc]`` MFCC + delta + delta-delta."""
    b, n = wave.shape
    t = frames(n)
    seg = wave[:, : (t - 1) * FRAME_HOP + FRAME_WIN].unfold(-1, FRAME_WIN, FRAME_HOP)  # [B, T, 400]
    spec = torch.fft.rfft(seg * torch.hamming_window(FRAME_WIN, device=wave.device), n=512).abs() ** 2
    mel = torch.log(spec @ mel_filterbank(SSL_RATE, 512, n_mels).to(wave).T + 1e-6)  # [B, T, n_mels]
    k = torch.arange(n_mels, device=wave.device, dtype=wave.dtype)
    dct = torch.cos(math.pi / n_mels * (k[None, :] + 0.5) * torch.arange(n_mfcc, device=wave.device)[:, None])
    c = mel @ dct.T  # [B, T, n_mfcc]
    pad = F.pad(c.transpose(1, 2), (1, 1), mode="replicate").transpose(1, 2)
    d1 = (pad[:, 2:] - pad[:, :-2]) / 2
    pad1 = F.pad(d1.transpose(1, 2), (1, 1), mode="replicate").transpose(1, 2)
    d2 = (pad1[:, 2:] - pad1[:, :-2]) / 2
    return torch.cat([c, d1, d2], -1)


def kmeans(x: torch.Tensor, k: int, iters: int = 25, seed: int = 0) -> torch.Tensor:
    """Lloyd's k-means with k-means++ seeding: ``x [N, D]`` -> centroids ``[k, D]``."""
    g = torch.Generator().manual_seed(seed)
    cent = x[torch.randint(len(x), (1,), generator=g)]
    for _ in range(1, k):
        d = torch.cdist(x, cent).min(1).values ** 2
        cent = torch.cat([cent, x[torch.multinomial(d / d.sum(), 1, generator=g)]])
    for _ in range(iters):
        assign = torch.cdist(x, cent).argmin(1)
        for j in range(k):
            members = x[assign == j]
            if len(members):
                cent[j] = members.mean(0)
    return cent


class MaskedPrediction(nn.Module):
    """SSL encoder + a linear head over the k-means clusters; the targets live in its buffers."""

    config_class = MaskedPredictionConfig

    def __init__(self, cfg: MaskedPredictionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = SSLEncoder(cfg.encoder)
        self.head = nn.Linear(cfg.encoder.hidden_size, cfg.n_clusters)
        self.register_buffer("centroids", torch.zeros(cfg.n_clusters, 39))
        self.register_buffer("feat_mean", torch.zeros(39))
        self.register_buffer("feat_std", torch.ones(39))

    def fit_targets(self, waves: list[np.ndarray], seed: int = 0) -> None:
        """Fit the MFCC k-means on a list of 16 kHz utterances ``[n]``."""
        feats = torch.cat([mfcc_frames(torch.from_numpy(w)[None])[0] for w in waves if frames(len(w)) > 0])
        self.feat_mean.copy_(feats.mean(0))
        self.feat_std.copy_(feats.std(0) + 1e-5)
        self.centroids.copy_(kmeans((feats - self.feat_mean) / self.feat_std, self.cfg.n_clusters, seed=seed))

    def targets(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave [B, n]`` -> cluster index per frame ``[B, frames(n)]``."""
        f = (mfcc_frames(wave) - self.feat_mean) / self.feat_std
        return torch.cdist(f, self.centroids[None].expand(len(f), -1, -1)).argmin(-1)

    def forward(self, wave: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``wave [B, n]``, ``mask [B, T]`` -> cluster logits ``[B, T, K]``."""
        return self.head(self.encoder(wave, mask).hidden[-1])


def span_mask(b: int, t: int, prob: float, span: int, gen: torch.Generator) -> torch.Tensor:
    """``[B, T]`` bool: each frame starts a masked span of ``span`` frames with probability ``prob``."""
    starts = torch.rand(b, t, generator=gen) < prob
    mask = torch.zeros(b, t + span, dtype=torch.bool)
    for i in range(span):
        mask[:, i: i + t] |= starts
    mask = mask[:, :t]
    mask[~mask.any(1), : min(span, t)] = True  # at least one span per utterance
    return mask


@dataclass
class SSLDataConfig:
    path: str = "../shared/data"
    seconds: float = 2.0
    batch_size: int = 8
    max_speech: int = 0
    kmeans_utterances: int = 200
    val_examples: int = 32


@dataclass
class MaskingConfig:
    mask_prob: float = 0.08
    mask_span: int = 10
    mix_prob: float = 0.2


@dataclass
class SSLStageConfig:
    model: MaskedPredictionConfig = field(default_factory=MaskedPredictionConfig)
    data: SSLDataConfig = field(default_factory=SSLDataConfig)
    masking: MaskingConfig = field(default_factory=MaskingConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def mix_utterances(wave: torch.Tensor, prob: float, rng: np.random.Generator) -> torch.Tensor:
    """WavLM's utterance mixing: add a crop of the next utterance in the batch to some of them."""
    b, n = wave.shape
    out = wave.clone()
    for i in range(b):
        if b < 2 or rng.uniform() >= prob:
            continue
        other = wave[(i + 1) % b]
        length = int(rng.integers(n // 10, n // 2 + 1))
        s_dst, s_src = int(rng.integers(0, n - length + 1)), int(rng.integers(0, n - length + 1))
        seg = other[s_src: s_src + length]
        gain = (wave[i].pow(2).mean() / (seg.pow(2).mean() + 1e-8)).sqrt() * 10 ** (-rng.uniform(-5, 5) / 20)
        out[i, s_dst: s_dst + length] += gain * seg
    return out


class SSLStage:
    kind = "ssl_pretrain"
    config_class = SSLStageConfig

    def __init__(self, cfg: SSLStageConfig) -> None:
        self.cfg = cfg
        self._val: list[torch.Tensor] | None = None
        self._mixers: dict[str, Mixer] = {}

    def _mixer(self, split: str) -> Mixer:
        """The split's speech (loaded once: k-means, batches and validation share it)."""
        if split not in self._mixers:
            corpus = load_corpus(self.cfg.data.path, split, max_speech=self.cfg.data.max_speech or None)
            self._mixers[split] = Mixer(corpus, MixtureConfig(p_reverb=0.0))
        return self._mixers[split]

    def _crops(self, mixer: Mixer, rng: np.random.Generator, n_crops: int) -> list[np.ndarray]:
        n = int(self.cfg.data.seconds * SSL_RATE)
        return [mixer.speech(rng, SSL_RATE, n)[0] for _ in range(n_crops)]

    def build_model(self) -> nn.Module:
        model = MaskedPrediction(self.cfg.model)
        rng = np.random.default_rng(self.cfg.trainer.seed)
        model.fit_targets(self._crops(self._mixer("train"), rng, self.cfg.data.kmeans_utterances),
                          seed=self.cfg.trainer.seed)
        return model

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        mixer = self._mixer("train")
        rng = np.random.default_rng([seed, rank, start_step, 7])
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        m = self.cfg.masking
        while True:
            wave = torch.from_numpy(np.stack(self._crops(mixer, rng, self.cfg.data.batch_size)))
            mask = span_mask(len(wave), frames(wave.shape[-1]), m.mask_prob, m.mask_span, gen)
            yield wave, mix_utterances(wave, m.mix_prob, rng), mask

    def loss(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
        clean, mixed, mask = (x.to(device) for x in batch)
        core = model.module if hasattr(model, "module") else model
        with torch.no_grad():
            target = core.targets(clean)
        logits = model(mixed, mask)
        loss = F.cross_entropy(logits[mask], target[mask])
        acc = (logits[mask].argmax(-1) == target[mask]).float().mean().item()
        return loss, {"acc_masked": acc}

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        if self._val is None:
            rng = np.random.default_rng(1234)
            self._val = [torch.from_numpy(w) for w in self._crops(self._mixer("val"), rng, self.cfg.data.val_examples)]
        model.eval()
        gen = torch.Generator().manual_seed(0)
        correct = total = 0
        counts = torch.zeros(self.cfg.model.n_clusters)
        for w in self._val:
            wave = w[None].to(device)
            mask = span_mask(1, frames(wave.shape[-1]), self.cfg.masking.mask_prob, self.cfg.masking.mask_span, gen)
            mask = mask.to(device)
            target = model.targets(wave)
            hit = model(wave, mask).argmax(-1) == target
            counts += torch.bincount(target[mask].cpu(), minlength=len(counts)).float()
            correct += int(hit[mask].sum())
            total += int(mask.sum())
        model.train()
        acc = correct / max(1, total)
        # majority: the accuracy of always answering the most frequent cluster
        return {"acc_masked": acc, "majority": float(counts.max() / max(1, total)), "score": acc}


def export_encoder(checkpoint: str | Path, out: str | Path, meta: dict | None = None) -> Path:
    """Write the encoder of an ``ssl_pretrain`` checkpoint as an ``"ssl"`` checkpoint."""
    from ..checkpoints import load_model, save_model

    model, m = load_model(checkpoint)
    if not isinstance(model, MaskedPrediction):
        raise ValueError(f"{checkpoint}: not an ssl_pretrain checkpoint (kind {type(model).__name__})")
    return save_model(out, model.encoder, "ssl", {**m, **(meta or {})})
