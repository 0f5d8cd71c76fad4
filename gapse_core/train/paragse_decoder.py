"""Training stage ``paragse_decoder``: the codec's decoder adapted to ParaGSE's predicted tokens.

ParaGSE's paper freezes its codec and resynthesises the predicted tokens with the decoder
that was trained on the true tokens of clean speech. A small predictor gets many tokens
wrong (``paragse-small``: about one in four right), and such a decoder has never learned what
to do with a token sequence no speech encoder would produce. This stage keeps the codec's
token path exactly (encoder, downsampling, latent projection and codebooks are frozen, so
every token, and with them the predictor trained on them, stays valid) and trains the
decoder and its iSTFT head further on a mixture of inputs, all scored against the **clean**
speech:

- the first ``p_predicted`` of each batch: the frozen predictor's tokens of the *degraded*
  speech (``predict(degraded, tokens(degraded))``: exactly what the ``paragse`` system
  decodes);
- the rest: the clean speech's own tokens (copy-synthesis, so the decoder stays a codec).

Loss: the codec stage's (multi-scale mel L1 x ``w_mel``, optionally the phase-derivative
term and the adversarial terms from ``gan_start_step``; mel-only by default). The result is a
``codec`` checkpoint with the same tokens: the ``paragse`` system takes it as its codec.

Validation on held-out degraded/clean pairs, through the system's own inference path
(:class:`~gapse_core.models.paragse_generative.ParaGSEGenerative`): PESQ-WB, ESTOI and DNSMOS
OVRL of the enhanced speech against the clean, beside the copy-synthesis scores of the clean
speech (``copy_*``); ``score`` = OVRL + PESQ / 2 of the enhanced speech.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
from torch import nn

from ..models.codec import CODEC_RATE, Codec
from ..models.paragse import check_codec
from .adversarial import WaveformDiscriminatorConfig
from .codec import CodecLossConfig, CodecStage
from .representations import DegradedDataConfig, degraded_stream, frozen, resynthesis_scores, validation_pairs
from .trainer import OptimConfig, TrainerConfig, freeze_submodules

TOKEN_PATH = ["encoder", "down", "to_latent", "quantizer"]  # the codec's submodules that make its tokens


@dataclass
class ParaGSEDecoderStageConfig:
    codec: str = "codec-small"  # the group-VQ codec whose decoder is adapted (shipped name or file)
    predictor: str = "paragse-small"  # the frozen ParaGSE predictor trained on that codec's tokens
    p_predicted: float = 0.5  # share of each batch that decodes predicted tokens of degraded speech
    discriminator: WaveformDiscriminatorConfig = field(default_factory=WaveformDiscriminatorConfig)
    loss: CodecLossConfig = field(default_factory=lambda: CodecLossConfig(gan_start_step=10**9))
    data: DegradedDataConfig = field(default_factory=lambda: DegradedDataConfig(val_examples=12))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=2e-4, betas=(0.8, 0.9), warmup_steps=100))
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


class ParaGSEDecoderStage(CodecStage):
    kind = "paragse_decoder"
    model_kind = "codec"
    config_class = ParaGSEDecoderStageConfig

    def __init__(self, cfg: ParaGSEDecoderStageConfig) -> None:
        if not 0.0 <= cfg.p_predicted <= 1.0:
            from ..config import ConfigError

            raise ConfigError(f"p_predicted must lie in [0, 1], not {cfg.p_predicted}")
        self.cfg = cfg
        self._predictor: nn.Module | None = None
        self._pairs: list | None = None

    def build_model(self) -> nn.Module:
        """The codec of ``cfg.codec`` with its token path frozen (only the decoder and head learn)."""
        codec = frozen(self.cfg.codec).requires_grad_(True)
        if not isinstance(codec, Codec):
            raise ValueError(f"{self.cfg.codec}: not a codec checkpoint")
        freeze_submodules(codec, TOKEN_PATH)
        return codec

    def predictor(self, codec: Codec, device: torch.device) -> nn.Module:
        if self._predictor is None:
            predictor = frozen(self.cfg.predictor, device)
            check_codec(codec.cfg, predictor.cfg, self.cfg.codec)
            self._predictor = predictor
        return self._predictor

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        return degraded_stream(self.cfg.data, [seed, rank, start_step, 29], self.cfg.trainer.num_workers)

    def generate(self, model: nn.Module, batch: Any, device: torch.device) -> dict[str, torch.Tensor]:
        """``(degraded [B, n], clean [B, n])`` -> ``{"real": clean, "fake": decoded [B, n], "commit": 0}``."""
        codec: Codec = getattr(model, "module", model)  # unwrap DistributedDataParallel
        degraded, clean = (x.to(device) for x in batch)
        n_pred = round(self.cfg.p_predicted * clean.shape[0])
        with torch.no_grad():
            parts = []  # token sequences [b, T, G]: predicted ones first, then the clean speech's own
            if n_pred:
                x = degraded[:n_pred]
                parts.append(self.predictor(codec, device).predict(x, codec.tokens(x)))
            if n_pred < clean.shape[0]:
                parts.append(codec.tokens(clean[n_pred:]))
            codes = torch.cat(parts)
        fake = codec.decode(codes, clean.shape[-1])
        return {"real": clean, "fake": fake, "commit": fake.new_zeros(())}

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        from ..models.paragse_generative import ParaGSEGenerative

        if self._pairs is None:
            self._pairs = [(d[0].numpy(), c[0].numpy()) for d, c in validation_pairs(self.cfg.data)]
        model.eval()
        system = ParaGSEGenerative(model, self.predictor(model, device))
        degraded, clean = [d for d, _ in self._pairs], [c for _, c in self._pairs]
        out = resynthesis_scores(lambda x: system.enhance(x, CODEC_RATE), degraded, clean)

        def copy_synthesis(x):
            return model(torch.from_numpy(x)[None].to(device))[0][0].float().cpu().numpy()

        out.update({f"copy_{k}": v for k, v in resynthesis_scores(copy_synthesis, clean).items()})
        model.train()
        out["score"] = out["ovrl"] + out["pesq"] / 2
        return out
