"""What the stages that combine two frozen branches share (``fusion``, ``postnet``).

Both learn from the branch cache (``train/branch_cache.py``): for each simulated example the
noisy input, the clean target and the frozen branches' outputs at 16 kHz. ``data.predictive``
and ``data.generative`` name which cached systems are the two branches. Both are judged the
same way: on the cache's held-out-speaker split, PESQ-WB, DNSMOS OVRL and LSD of the combined
output beside those of each branch alone (what the combination must beat); the branches'
DNSMOS comes from the cache, where it was scored once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from .. import metrics
from .branch_cache import RATE, load, signal_names


@dataclass
class BranchPairDataConfig:
    predictive: str = "predictive"  # cached system whose output is the predictive branch
    generative: str = "paragse"  # cached system whose output is the generative branch
    batch_size: int = 4
    seconds: float = 0.0  # random crop of each cached clip; 0: the whole clip
    val_examples: int = 48


class BranchPairStage:
    """Cache-backed data and validation; ``self.cfg`` has ``cache`` and ``data`` (:class:`BranchPairDataConfig`).

    A subclass supplies :meth:`combine` (the model's output for one validation clip).
    """

    cfg: Any
    _val: dict | None = None

    def check_branches(self) -> None:
        for role in ("predictive", "generative"):
            if getattr(self.cfg.data, role) not in self.cfg.cache.systems:
                raise ValueError(f"data.{role} {getattr(self.cfg.data, role)!r} is not among cache.systems "
                                 f"{self.cfg.cache.systems}")

    def _signals(self, cache: dict[str, np.ndarray]) -> list[np.ndarray]:
        d = self.cfg.data
        return [cache["noisy"], cache["clean"], cache[d.predictive], cache[d.generative]]

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]:
        """``(noisy, clean, pred, gen)``, each ``[batch_size, n]`` float32 at 16 kHz."""
        signals = self._signals(load(self.cfg.cache, "train"))
        rng = np.random.default_rng([seed, rank, start_step, 37])
        n = signals[0].shape[-1]
        crop = min(n, int(self.cfg.data.seconds * RATE)) if self.cfg.data.seconds else n
        while True:
            idx = rng.integers(len(signals[0]), size=self.cfg.data.batch_size)
            starts = rng.integers(n - crop + 1, size=len(idx))
            yield tuple(torch.from_numpy(np.stack([s[i, a:a + crop] for i, a in zip(idx, starts)]).astype(np.float32))
                        for s in signals)

    def _branch_scores(self) -> dict:
        cache = load(self.cfg.cache, "val")
        k = min(self.cfg.data.val_examples, len(cache["noisy"]))
        noisy, clean, pred, gen = (s[:k].astype(np.float32) for s in self._signals(cache))
        out = {"noisy": noisy, "clean": clean, "pred": pred, "gen": gen}
        names = signal_names(self.cfg.cache)
        for name, system, waves in (("pred", self.cfg.data.predictive, pred), ("gen", self.cfg.data.generative, gen)):
            out[f"pesq_{name}"] = float(np.nanmean([metrics.pesq_wb(y, c, RATE) for y, c in zip(waves, clean)]))
            out[f"lsd_{name}"] = float(np.mean([metrics.lsd(y, c, RATE) for y, c in zip(waves, clean)]))
            if "dnsmos" in cache:  # scored when the cache was made
                out[f"ovrl_{name}"] = float(cache["dnsmos"][:k, names.index(system), 0].mean())
            else:
                out[f"ovrl_{name}"] = float(np.mean([metrics.dnsmos(y, RATE)["ovrl"] for y in waves]))
        return out

    def combine(self, model: nn.Module, noisy: np.ndarray, pred: np.ndarray, gen: np.ndarray,
                device: torch.device) -> tuple[np.ndarray, dict[str, float]]:
        """One validation clip's combined output ``[n]`` at 16 kHz and any numbers to average."""
        raise NotImplementedError

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]:
        """Combined output's ``pesq``, ``ovrl``, ``lsd`` (+ ``combine``'s extras) beside each branch's;
        ``score`` = PESQ + OVRL."""
        if self._val is None:
            self._val = self._branch_scores()
        v = self._val
        model.eval()
        rows = []
        for x, c, p, g in zip(v["noisy"], v["clean"], v["pred"], v["gen"]):
            y, extras = self.combine(model, x, p, g, device)
            rows.append({"pesq": metrics.pesq_wb(y, c, RATE), "ovrl": metrics.dnsmos(y, RATE)["ovrl"],
                         "lsd": metrics.lsd(y, c, RATE), **extras})
        model.train()
        out = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
        out.update({k: val for k, val in v.items() if k.startswith(("pesq_", "ovrl_", "lsd_"))})
        out["score"] = out["pesq"] + out["ovrl"]
        return out
