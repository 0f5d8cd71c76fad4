"""``gapse train STAGE --config FILE``: build a stage from YAML and run the trainer.

Works the same under ``torchrun --nproc_per_node N -m gapse_core.cli train ...``.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import yaml

from ..config import from_dict
from ..data.corpus import check_corpus
from . import STAGES, branch_cache
from .trainer import Trainer


def stage_class(stage: str) -> type:
    """The class of training stage ``stage`` (its module is imported on demand)."""
    if stage not in STAGES:
        raise SystemExit(f"gapse train: unknown stage {stage!r}; known: {', '.join(sorted(STAGES))}")
    mod = importlib.import_module(STAGES[stage])
    return next(v for v in vars(mod).values() if isinstance(v, type) and getattr(v, "kind", None) == stage
                and hasattr(v, "config_class"))


def corpus_key(stage: str) -> str:
    """The config key of the stage's corpus folder: ``cache.path`` for the stages that read the
    branch cache (quality, fusion), ``data.path`` for the others."""
    names = {f.name for f in dataclasses.fields(stage_class(stage).config_class)}
    return "cache.path" if "cache" in names else "data.path"


def load_stage(stage: str, config: str | Path | None, overrides: dict | None = None):
    """Import the stage module and build ``(stage_obj, stage_cfg)`` from YAML + overrides."""
    cls = stage_class(stage)
    data = {}
    if config:
        with open(config, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    cfg = from_dict(cls.config_class, data, where=str(config or stage))
    return cls(cfg), cfg


def run(stage: str, config: str | Path | None, out: str | Path, overrides: dict | None = None,
        device: str = "auto") -> dict:
    obj, cfg = load_stage(stage, config, overrides)
    from ..config import to_dict

    # the corpus is checked now, in one line: from inside a data-loader or cache-building worker its
    # error would come wrapped in a traceback, after the run folder was made
    if corpus_key(stage) == "cache.path":
        if any(branch_cache.missing_chunks(cfg.cache, s) for s in ("train", "val")):
            check_corpus(cfg.cache.path)  # (a complete branch cache needs no corpus)
    elif isinstance(getattr(getattr(cfg, "data", None), "path", None), str):
        check_corpus(cfg.data.path)

    trainer = Trainer(obj, Path(out), cfg.trainer, cfg.optim, device=device,
                      meta={"stage": stage, "config_file": str(config), "stage_config": to_dict(cfg)})
    return trainer.fit()
