"""The hybrid system's autoregressive token LM: SSL features as a prefix, first-layer codec tokens out.

A decoder-only LLaMA-style transformer (``transformers``' ``LlamaModel``: RMSNorm, rotary
positions, SwiGLU) reads

    [ adapter(SSL features of the degraded speech) x T | BOS | token_1 ... token_T ]

and predicts ``token_t`` at the position before it (teacher forcing in training). At inference
:meth:`TokenLM.generate` decodes greedily, one token per step, reusing the keys and values of
everything before (the KV cache), and returns the tokens and the last hidden states that the
hybrid's DPRNN cross-attends to. The tokens are those of a residual-VQ codec's first layer.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class TokenLMConfig:
    """Hybrid paper: 12 layers of 512; ``codebook_size`` 1024 (X-Codec's first RVQ layer)."""

    ssl_dim: int = 96
    dim: int = 256
    layers: int = 4
    heads: int = 4
    intermediate: int = 512
    codebook_size: int = 1024
    max_positions: int = 8192


class TokenLM(nn.Module):
    config_class = TokenLMConfig

    def __init__(self, cfg: TokenLMConfig) -> None:
        super().__init__()
        from transformers import LlamaConfig, LlamaModel

        self.cfg = cfg
        self.adapter = nn.Linear(cfg.ssl_dim, cfg.dim)  # the linear adapter of the SSL prefix
        self.embed = nn.Embedding(cfg.codebook_size + 1, cfg.dim)  # + BOS
        self.lm = LlamaModel(LlamaConfig(
            vocab_size=1, hidden_size=cfg.dim, intermediate_size=cfg.intermediate, num_hidden_layers=cfg.layers,
            num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads, max_position_embeddings=cfg.max_positions,
            bos_token_id=None, eos_token_id=None, pad_token_id=None))
        self.lm.embed_tokens = None  # inputs are always given as embeddings
        self.head = nn.Linear(cfg.dim, cfg.codebook_size)
        # the KV cache's argument (and output field): `cache` in transformers 5.2x, where `past_key_values`
        # is deprecated; `past_key_values` before
        self._cache_name = "cache" if "cache" in inspect.signature(LlamaModel.forward).parameters else "past_key_values"

    @property
    def bos(self) -> int:
        return self.cfg.codebook_size

    def forward(self, ssl: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: ``ssl [B, T, D_ssl]``, ``tokens [B, T]`` -> ``(logits [B, T, K], hidden [B, T, dim])``."""
        b, t = tokens.shape
        inputs = torch.cat([self.adapter(ssl), self.embed(torch.full((b, 1), self.bos, device=tokens.device)),
                            self.embed(tokens[:, :-1])], 1)
        hidden = self.lm(inputs_embeds=inputs).last_hidden_state[:, ssl.shape[1]:]  # positions BOS .. token_{T-1}
        return self.head(hidden), hidden

    @torch.no_grad()
    def generate(self, ssl: torch.Tensor, n_tokens: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy decoding with the KV cache: ``ssl [B, T, D_ssl]`` -> ``(tokens [B, N], hidden [B, N, dim])``."""
        b = ssl.shape[0]
        n = ssl.shape[1] if n_tokens is None else n_tokens
        step = torch.cat([self.adapter(ssl), self.embed(torch.full((b, 1), self.bos, device=ssl.device))], 1)
        cache, tokens, hidden = None, [], []
        for _ in range(n):
            out = self.lm(inputs_embeds=step, use_cache=True, **{self._cache_name: cache})
            cache = getattr(out, self._cache_name)
            h = out.last_hidden_state[:, -1:]
            tok = self.head(h).argmax(-1)  # [B, 1]
            tokens.append(tok)
            hidden.append(h)
            step = self.embed(tok)
        return torch.cat(tokens, 1), torch.cat(hidden, 1)
