"""SSL encoder with WavLM's architecture (GAP-URGENet's generative branch, the hybrid's LM prefix).

A CNN feature encoder turns 16 kHz audio into 50 Hz frames (stride 320 samples, receptive
field 400), a transformer with gated relative position bias (WavLM) contextualises them. The
network is ``transformers``' ``WavLMModel``, built from gapse's typed :class:`SSLConfig` (a
tiny test size up to WavLM-Large), so real WavLM weights a user has on disk load into the
very same module:

* gapse's own checkpoints: ``checkpoints.load_model("ssl-small")`` (kind ``"ssl"``);
* a folder written by ``WavLMModel.save_pretrained`` (``config.json`` + ``model.safetensors``):
  ``checkpoints.load_model("/models/wavlm-base-plus")`` goes through :func:`from_pretrained_folder`,
  reading safetensors only (no code, no download).

DeWavLM (the paper's distilled student) exposes two representations, each layer-normed
without learned parameters: **acoustic** = the first transformer layer's output and
**phonetic** = the last layer's. Frames flagged by :func:`lost_packets` are replaced by
the learnable mask embedding before the transformer (``mask_time_indices``).

Enhancement branches call :meth:`SSLEncoder.centred`, which pads the input so frame ``t`` is
centred on sample ``320 t - 120``: a vocoder's iSTFT (hop 320, centred frames) then lines up
with the input after dropping its first ``CENTRED_OFFSET`` samples, and lost packets map to
whole frames.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..audio.resample import resample

SSL_RATE = 16000
FRAME_HOP = 320  # samples at 16 kHz: 50 Hz frames
FRAME_WIN = 400  # receptive field of the CNN feature encoder


@dataclass
class SSLConfig:
    """Sizes of the WavLM-architecture encoder.

    WavLM-Base+: ``hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072,
    conv_dim=512``; WavLM-Large: ``1024, 24, 16, 4096, 512`` (+ ``layer_norm_conv=True``).
    The CNN always has WavLM's 7 layers (kernels 10,3,3,3,3,2,2; strides 5,2,2,2,2,2,2).
    """

    hidden_size: int = 96
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 256
    conv_dim: int = 96
    layer_norm_conv: bool = False  # WavLM-Large's "layer" feature-extractor norm (+ pre-LN); Base: group norm
    conv_bias: bool = False  # WavLM-Large: True
    conv_pos_kernel: int = 32  # 128 in WavLM
    conv_pos_groups: int = 8  # 16 in WavLM
    num_buckets: int = 320
    max_bucket_distance: int = 800
    dropout: float = 0.0

    def to_wavlm(self):
        from transformers import WavLMConfig

        return WavLMConfig(
            hidden_size=self.hidden_size, num_hidden_layers=self.num_layers, num_attention_heads=self.num_heads,
            intermediate_size=self.intermediate_size, conv_dim=(self.conv_dim,) * 7,
            feat_extract_norm="layer" if self.layer_norm_conv else "group", conv_bias=self.conv_bias,
            do_stable_layer_norm=self.layer_norm_conv,
            num_conv_pos_embeddings=self.conv_pos_kernel, num_conv_pos_embedding_groups=self.conv_pos_groups,
            num_buckets=self.num_buckets, max_bucket_distance=self.max_bucket_distance,
            hidden_dropout=self.dropout, attention_dropout=self.dropout, activation_dropout=self.dropout,
            feat_proj_dropout=self.dropout, layerdrop=0.0, mask_time_prob=0.0, mask_feature_prob=0.0,
        )

    @classmethod
    def from_wavlm(cls, c) -> "SSLConfig":
        """The gapse config of a ``transformers.WavLMConfig`` (refuses shapes gapse's config cannot express)."""
        if tuple(c.conv_kernel) != (10, 3, 3, 3, 3, 2, 2) or tuple(c.conv_stride) != (5, 2, 2, 2, 2, 2, 2):
            raise ValueError("only WavLM's standard 7-layer CNN (50 Hz frames at 16 kHz) is supported")
        if len(set(c.conv_dim)) != 1:
            raise ValueError("only equal CNN widths are supported")
        return cls(hidden_size=c.hidden_size, num_layers=c.num_hidden_layers, num_heads=c.num_attention_heads,
                   intermediate_size=c.intermediate_size, conv_dim=c.conv_dim[0],
                   layer_norm_conv=c.feat_extract_norm == "layer", conv_bias=bool(c.conv_bias),
                   conv_pos_kernel=c.num_conv_pos_embeddings,
                   conv_pos_groups=c.num_conv_pos_embedding_groups, num_buckets=c.num_buckets,
                   max_bucket_distance=c.max_bucket_distance)


@dataclass
class SSLFeatures:
    """What the encoder returns for ``wave [B, n]`` at 16 kHz (``T = frames(n)``)."""

    hidden: list[torch.Tensor]  # L + 1 tensors [B, T, D]: CNN projection, then each transformer layer
    acoustic: torch.Tensor  # [B, T, D] first transformer layer, layer-normed
    phonetic: torch.Tensor  # [B, T, D] last transformer layer, layer-normed


def frames(n_samples: int) -> int:
    """Number of 50 Hz frames the CNN gives for ``n_samples`` at 16 kHz (0 below 400 samples)."""
    return max(0, (n_samples - FRAME_WIN) // FRAME_HOP + 1)


def lost_packets(wave: torch.Tensor, fs: int = SSL_RATE, packet_ms: float = 20.0, threshold: float = 1e-7,
                 fraction: float = 0.99) -> torch.Tensor:
    """``wave [B, n]`` at ``fs`` Hz -> ``[B, ceil(n / packet)]`` bool: which 20 ms packets were lost.

    A packet (``fs * packet_ms / 1000`` samples, counted from sample 0) is lost when at least
    ``fraction`` of its samples are below ``threshold`` in magnitude (DeWavLM's rule). Run it at
    the input's own rate: resampling smears the exact zeros of a lost packet.
    """
    b, n = wave.shape
    packet = int(round(fs * packet_ms / 1000))
    p = -(-n // packet)
    if p == 0:
        return torch.zeros(b, 0, dtype=torch.bool, device=wave.device)
    quiet = F.pad((wave.abs() < threshold).float(), (0, p * packet - n), value=float("nan")).reshape(b, p, packet)
    return torch.nanmean(quiet, -1) >= fraction


def to_16k_with_lost_packets(wave: np.ndarray, fs: int) -> tuple[np.ndarray, torch.Tensor]:
    """``wave [n]`` at ``fs`` Hz -> ``(x16 [m] at 16 kHz, lost [1, ceil(m / 320)] bool)``.

    The lost packets are found at the input's own rate (:func:`lost_packets`) and put on the
    16 kHz packet grid (resampling may round the length by a sample or two).
    """
    lost = lost_packets(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None], fs)
    x16 = np.ascontiguousarray(resample(wave, fs, SSL_RATE), dtype=np.float32)
    p16 = -(-len(x16) // 320)
    return x16, F.pad(lost, (0, max(0, p16 - lost.shape[-1])))[:, :p16]


def centred_input(wave: torch.Tensor) -> torch.Tensor:
    """``[B, n]`` at 16 kHz -> ``[B, 320 (ceil(n / 320) + 2)]`` padded (reflect) for :func:`frames`.

    One 20 ms packet is prepended, so encoder frame ``t`` (samples ``[320 t, 320 t + 400)`` of
    the padded signal) has original packet ``t - 1`` as its first 320 samples and is centred on
    original sample ``320 t - CENTRED_OFFSET``; there are ``ceil(n / 320) + 1`` frames, and an
    iSTFT with hop 320 over them covers ``n + CENTRED_OFFSET`` samples and more.
    """
    b, n = wave.shape
    c = -(-n // FRAME_HOP)
    right = FRAME_HOP * (c + 2) - n - FRAME_HOP
    mode = "reflect" if n > max(FRAME_HOP, right) else "constant"
    return F.pad(wave[:, None], (FRAME_HOP, right), mode=mode)[:, 0]


CENTRED_OFFSET = FRAME_HOP - FRAME_WIN // 2  # 120 samples: see centred_input


def centred_frame_mask(lost: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Lost packets ``[B, P]`` -> ``[B, n_frames]`` frames of :func:`centred_input` to mask.

    Frame ``t`` starts with packet ``t - 1`` (frame 0 with the reflection of packet 0).
    """
    if lost.shape[-1] == 0:
        return torch.zeros(lost.shape[0], n_frames, dtype=torch.bool, device=lost.device)
    idx = (torch.arange(n_frames, device=lost.device) - 1).clamp(0, lost.shape[-1] - 1)
    return lost[:, idx]


class SSLEncoder(nn.Module):
    """WavLM-architecture encoder; ``forward(wave [B, n] @ 16 kHz) -> SSLFeatures``."""

    config_class = SSLConfig

    def __init__(self, cfg: SSLConfig, wavlm=None) -> None:
        super().__init__()
        from transformers import WavLMModel

        self.cfg = cfg
        self.wavlm = wavlm if wavlm is not None else WavLMModel(cfg.to_wavlm())
        # no random SpecAugment inside the model: masks are always given explicitly
        self.wavlm.config.mask_time_prob = self.wavlm.config.mask_feature_prob = 0.0
        if getattr(self.wavlm, "masked_spec_embed", None) is None:  # the learnable mask embedding [D]
            self.wavlm.masked_spec_embed = nn.Parameter(torch.empty(cfg.hidden_size).uniform_())

    @property
    def dim(self) -> int:
        return self.cfg.hidden_size

    def forward(self, wave: torch.Tensor, mask_frames: torch.Tensor | None = None) -> SSLFeatures:
        """``wave [B, n]`` (16 kHz, any level: normalised to zero mean, unit variance per clip).

        ``mask_frames [B, T]`` (bool): frames replaced by the learnable mask embedding (lost
        packets; masked-prediction pretraining).
        """
        x = (wave - wave.mean(-1, keepdim=True)) / (wave.std(-1, keepdim=True) + 1e-5)
        out = self.wavlm(x, mask_time_indices=mask_frames, output_hidden_states=True)
        hidden = list(out.hidden_states)
        d = hidden[-1].shape[-1]
        return SSLFeatures(hidden, F.layer_norm(hidden[1], (d,)), F.layer_norm(hidden[-1], (d,)))

    def centred(self, wave: torch.Tensor, lost: torch.Tensor | None = None) -> SSLFeatures:
        """Features of ``wave [B, n]`` (16 kHz) on the centred frame grid: ``T = ceil(n / 320) + 1``.

        ``lost [B, ceil(n / 320)]``: lost packets (:func:`lost_packets`, found at the input's
        own rate); their frames get the mask embedding (DeWavLM-Omni's packet-loss concealment).
        """
        x = centred_input(wave)
        mask = None
        if lost is not None and bool(lost.any()):
            mask = centred_frame_mask(lost.to(wave.device), frames(x.shape[-1]))
        return self(x, mask)


def is_pretrained_folder(path: str | Path) -> bool:
    """True for a folder written by ``save_pretrained`` of a WavLM model."""
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text()).get("model_type") == "wavlm"
    except (OSError, ValueError):
        return False


def from_pretrained_folder(path: str | Path) -> SSLEncoder:
    """Load real (or any) WavLM weights from a ``save_pretrained`` folder; safetensors only, no download."""
    from transformers import WavLMConfig, WavLMModel

    path = Path(path)
    if not (path / "model.safetensors").is_file():
        raise ValueError(f"{path}: no model.safetensors (gapse loads WavLM weights from safetensors only, "
                         "never from pickled .bin files)")
    wcfg = WavLMConfig.from_pretrained(path, local_files_only=True)
    cfg = SSLConfig.from_wavlm(wcfg)
    model = WavLMModel.from_pretrained(path, config=wcfg, local_files_only=True, use_safetensors=True)
    return SSLEncoder(cfg, model)
