"""What the generative-branch stages share: frozen models and 16 kHz speech for them.

The vocoder, DeWavLM and adapter stages learn from the frozen teacher's representations of
clean speech (DeWavLM and the adapter also from the student's of degraded speech); the codec
resynthesises clean speech and ParaGSE predicts a frozen codec's tokens. Frozen models are
loaded through :func:`checkpoints.load_model` (a shipped name, a file, or a ``save_pretrained``
WavLM folder) and never receive gradients. Clean crops are level-normalised to ``LEVEL``;
degraded/clean pairs are scaled together so the clean one is.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from ..audio.level import level_gain, normalise
from ..data.corpus import load_corpus
from ..data.mixer import Mixer, MixtureConfig
from ..models.ssl import SSL_RATE
from .data import worker_stream


@dataclass
class SpeechDataConfig:
    """Clean 16 kHz crops for the stages that learn to (re)synthesise speech (vocoder, codec)."""

    path: str = "../shared/data"
    seconds: float = 1.0
    batch_size: int = 8
    max_speech: int = 0
    val_examples: int = 12
    val_seconds: float = 3.0


@dataclass
class DegradedDataConfig:
    path: str = "../shared/data"
    seconds: float = 2.0
    batch_size: int = 8
    max_speech: int = 0
    mixture: MixtureConfig = field(default_factory=MixtureConfig)
    val_examples: int = 24
    val_seconds: float = 4.0


def frozen(name_or_path: str, device: torch.device | str = "cpu") -> nn.Module:
    """A model loaded for feature extraction: eval mode, no gradients."""
    from ..checkpoints import load_model

    model, _ = load_model(name_or_path, device)
    return model.eval().requires_grad_(False)


def speech_mixer(path: str, split: str, max_speech: int = 0) -> Mixer:
    """A mixer over the split's speech (its ``speech`` method gives clean crops)."""
    return Mixer(load_corpus(path, split, max_speech=max_speech or None), MixtureConfig(p_reverb=0.0))


def clean_crops(mixer: Mixer, rng: np.random.Generator, n_crops: int, seconds: float) -> list[np.ndarray]:
    """``n_crops`` level-normalised clean crops ``[seconds * 16000]`` at 16 kHz."""
    n = int(seconds * SSL_RATE)
    return [normalise(mixer.speech(rng, SSL_RATE, n)[0]) for _ in range(n_crops)]


def clean_batches(mixer: Mixer, rng: np.random.Generator, batch_size: int, seconds: float) -> Iterator[torch.Tensor]:
    """Endless ``[B, n]`` batches of :func:`clean_crops`."""
    while True:
        yield torch.from_numpy(np.stack(clean_crops(mixer, rng, batch_size, seconds)))


def degraded_batches(mixer: Mixer, rng: np.random.Generator, batch_size: int,
                     seconds: float) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless ``(degraded [B, n], clean [B, n])`` 16 kHz batches (every distortion of the simulation).

    Each pair is scaled together so the clean target has RMS ``LEVEL``.
    """
    while True:
        noisy, clean = [], []
        for _ in range(batch_size):
            ex = mixer.example(rng, SSL_RATE, seconds)
            g = level_gain(ex["clean"])
            noisy.append(ex["noisy"] * g)
            clean.append(ex["clean"] * g)
        yield (torch.from_numpy(np.stack(noisy).astype(np.float32)),
               torch.from_numpy(np.stack(clean).astype(np.float32)))


def resynthesis_scores(fn: Callable[[np.ndarray], np.ndarray], inputs: list[np.ndarray],
                       refs: list[np.ndarray] | None = None) -> dict[str, float]:
    """Mean PESQ-WB, ESTOI and DNSMOS OVRL of ``fn(x)`` for each 16 kHz input ``x`` against its
    reference (``refs``; default: the input itself, i.e. copy-synthesis of clean crops)."""
    from .. import metrics

    pesq, estoi, ovrl = [], [], []
    for x, ref in zip(inputs, refs if refs is not None else inputs):
        y = fn(x)
        pesq.append(metrics.pesq_wb(y, ref, SSL_RATE))
        estoi.append(metrics.estoi(y, ref, SSL_RATE))
        ovrl.append(metrics.dnsmos(y, SSL_RATE)["ovrl"])
    return {"pesq": float(np.nanmean(pesq)), "estoi": float(np.mean(estoi)), "ovrl": float(np.mean(ovrl))}


def degraded_mixer(cfg: DegradedDataConfig, split: str) -> Mixer:
    return Mixer(load_corpus(cfg.path, split, max_speech=cfg.max_speech or None), cfg.mixture,
                 rir_seed=1 if split == "train" else 2)


def _clean_worker(cfg: SpeechDataConfig, seed: list[int], worker: int) -> Iterator[torch.Tensor]:
    rng = np.random.default_rng([*seed, worker])
    return clean_batches(speech_mixer(cfg.path, "train", cfg.max_speech), rng, cfg.batch_size, cfg.seconds)


def _degraded_worker(cfg: DegradedDataConfig, seed: list[int], worker: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    rng = np.random.default_rng([*seed, worker])
    return degraded_batches(degraded_mixer(cfg, "train"), rng, cfg.batch_size, cfg.seconds)


def clean_stream(cfg: SpeechDataConfig, seed: list[int], num_workers: int) -> Iterator[torch.Tensor]:
    """Training :func:`clean_batches` from ``num_workers`` data processes (0: this one);
    ``seed`` = (run seed, rank, start step, stage salt), extended by the worker id."""
    return worker_stream(functools.partial(_clean_worker, cfg, list(seed)), num_workers)


def degraded_stream(cfg: DegradedDataConfig, seed: list[int],
                    num_workers: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Training :func:`degraded_batches` from ``num_workers`` data processes, seeded as :func:`clean_stream`."""
    return worker_stream(functools.partial(_degraded_worker, cfg, list(seed)), num_workers)


def validation_pairs(cfg: DegradedDataConfig, seed: int = 1234) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Fixed held-out ``(degraded [1, n], clean [1, n])`` 16 kHz pairs, clean at RMS ``LEVEL``."""
    batches = degraded_batches(degraded_mixer(cfg, "val"), np.random.default_rng(seed), 1, cfg.val_seconds)
    return [next(batches) for _ in range(cfg.val_examples)]
