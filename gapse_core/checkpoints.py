"""Save and load model checkpoints: config + weights, loaded with ``weights_only=True``.

A checkpoint is a plain dict ``{"format", "kind", "config", "state_dict", "meta"}`` written by
``torch.save``; loading never unpickles code. ``kind`` names an entry of ``MODEL_KINDS``, which
maps it to its ``nn.Module`` class and config dataclass. Shipped checkpoints live in the
repository's ``checkpoints/`` folder (or ``$GAPSE_CHECKPOINTS``) and are found by name
(``"predictor-small"``); a path to any other file goes through the same code, and so does a
WavLM folder written by ``save_pretrained`` (``config.json`` + ``model.safetensors``), which
loads as an ``"ssl"`` model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import from_dict, to_dict

FORMAT = "gapse-checkpoint/1"


# kind -> "module:Class"; only the class a checkpoint needs is imported (loading a predictor
# does not pull in the pretraining stage's data pipeline)
MODEL_KINDS: dict[str, str] = {
    "predictor": "gapse_core.models.predictor:Predictor",
    "ssl": "gapse_core.models.ssl:SSLEncoder",
    "ssl_pretrain": "gapse_core.train.ssl_pretrain:MaskedPrediction",
    "vocoder": "gapse_core.models.vocoder:Vocoder",
    "adapter": "gapse_core.models.adapter:Adapter",
    "codec": "gapse_core.models.codec:Codec",
    "paragse": "gapse_core.models.paragse:ParaGSE",
    "token_lm": "gapse_core.models.token_lm:TokenLM",
    "hybrid_mask": "gapse_core.models.hybrid_mask:HybridMask",
    "hybrid": "gapse_core.models.hybrid_generative:HybridBranch",
    "quality": "gapse_core.models.quality:QualityPredictor",
    "mask_fusion": "gapse_core.models.mask_fusion:MaskFusion",
    "postnet": "gapse_core.models.postnet:PostNet",
}


def model_class(kind: str) -> type[nn.Module]:
    """The ``nn.Module`` class of a checkpoint kind."""
    import importlib

    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {sorted(MODEL_KINDS)}")
    module, name = MODEL_KINDS[kind].split(":")
    return getattr(importlib.import_module(module), name)


def checkpoint_dir() -> Path:
    """Folder of the shipped checkpoints."""
    env = os.environ.get("GAPSE_CHECKPOINTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "checkpoints"


def shipped() -> dict[str, Path]:
    """Names of the shipped checkpoints -> their files."""
    folder = checkpoint_dir()
    return {p.stem: p for p in sorted(folder.glob("*.pt"))} if folder.is_dir() else {}


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A shipped checkpoint's name, or a path to a checkpoint file."""
    p = Path(name_or_path)
    if p.suffix == ".pt" and p.exists():
        return p
    known = shipped()
    if str(name_or_path) in known:
        return known[str(name_or_path)]
    raise FileNotFoundError(f"no checkpoint {name_or_path!r}: not a file, and not one of the shipped {sorted(known)}")


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file, then rename: a kill never leaves a torn checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)
    return path


def save_model(path: str | os.PathLike, model: nn.Module, kind: str, meta: dict | None = None,
               half: bool = False) -> Path:
    """Write a model checkpoint (config + weights + metadata).

    ``half``: store floating-point weights as float16 (half the file; loading casts them back
    into the model's float32 parameters). For shipping, not for resuming training.
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {sorted(MODEL_KINDS)}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        meta = {**(meta or {}), "stored_as": "float16"}
    return atomic_save({"format": FORMAT, "kind": kind, "config": to_dict(model.cfg), "state_dict": state,
                        "meta": meta or {}}, path)


def _load_failure(exc: Exception) -> str:
    """One line out of ``torch.load``'s multi-line errors."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:  # pickled objects (code, classes) that weights-only loading refuses
        first = next((ln.strip() for ln in text.split("WeightsUnpickler error:", 1)[1].splitlines() if ln.strip()), "")
        return f"it holds what weights-only loading refuses, and gapse never unpickles code: {first.split('. ')[0]}"
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return f"not a complete torch file: {type(exc).__name__} {first}".rstrip()


def read(name_or_path: str | os.PathLike) -> dict:
    """The raw checkpoint dict (weights-only unpickling)."""
    path = resolve(name_or_path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, torn, or pickled objects that weights_only refuses
        raise ValueError(f"{path}: not a gapse checkpoint ({_load_failure(exc)})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: not a gapse checkpoint")
    return ckpt


def build(kind: str, config: dict) -> nn.Module:
    """Instantiate a model of ``kind`` from its config dict."""
    cls = model_class(kind)
    return cls(from_dict(cls.config_class, config))


def load_model(name_or_path: str | os.PathLike, device: str | torch.device = "cpu",
               kind: str | None = None) -> tuple[nn.Module, dict]:
    """Load a model checkpoint by shipped name or path; returns ``(model in eval mode, meta)``.

    A folder holding a ``save_pretrained`` WavLM (e.g. a WavLM-Base+ the user has) loads as an
    :class:`~gapse_core.models.ssl.SSLEncoder` with the same interface as gapse's own.
    ``kind``: the model kind the caller needs; another kind is a ``ValueError`` naming both.
    """
    from .models.ssl import from_pretrained_folder, is_pretrained_folder

    if Path(name_or_path).is_dir():
        if not is_pretrained_folder(name_or_path):
            raise ValueError(f"{name_or_path}: a folder, but not a save_pretrained WavLM (no config.json "
                             "with model_type 'wavlm')")
        if kind not in (None, "ssl"):
            raise ValueError(f"{name_or_path}: a WavLM folder (an ssl encoder), not a {kind} checkpoint")
        return from_pretrained_folder(name_or_path).to(device).eval(), {"source": str(name_or_path)}
    ckpt = read(name_or_path)
    if kind is not None and ckpt["kind"] != kind:
        raise ValueError(f"{resolve(name_or_path)}: a {ckpt['kind']} checkpoint, not a {kind} one")
    model = build(ckpt["kind"], ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), ckpt.get("meta", {})
