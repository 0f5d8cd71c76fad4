"""The training loop every stage shares.

AdamW with linear warm-up and cosine decay, gradient clipping, bf16 autocast on GPU,
a tqdm progress bar, periodic validation, a CSV log, atomic checkpoints every N steps and
resume after a kill, deterministic seeding, and DistributedDataParallel when launched by
``torchrun`` (gloo on CPU, NCCL on GPU). A stage supplies the model, batches, loss and
validation through the :class:`Stage` protocol.

Adversarial stages (vocoder, adapter, codec) also implement :class:`GANStage`: the loop then
keeps a discriminator with its own AdamW, and each step is generator forward ->
discriminator step on the detached output -> generator step on reconstruction + adversarial
+ feature-matching terms (the adversarial terms from ``gan_start_step`` on; before that the
generator learns from its reconstruction loss alone, which gets a small model off the ground
faster on a CPU). A stage with a ``disc_start_step`` before ``gan_start_step`` updates its
discriminator from then on, so the generator's first adversarial gradients come from a
discriminator that has already learnt something.
"""

from __future__ import annotations

import csv
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ..checkpoints import atomic_save, save_model


@dataclass
class OptimConfig:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 1e-2
    warmup_steps: int = 200
    min_lr_ratio: float = 0.02
    grad_clip: float = 5.0


@dataclass
class TrainerConfig:
    steps: int = 1000
    log_every: int = 10
    val_every: int = 200  # 0: never (e.g. on a machine without the held-out split or pesq)
    ckpt_every: int = 100
    seed: int = 0
    amp: bool = True  # bf16 autocast, GPU only
    num_workers: int = 1
    threads: int = 0  # torch CPU threads per process (0: leave torch's default)
    progress: bool = True
    init: str = ""  # start a new run from these weights (a checkpoint name or path; ignored when resuming)
    init_partial: bool = False  # take only the init tensors whose names and shapes match (e.g. a new quantizer)
    freeze: list[str] = field(default_factory=list)  # submodule names kept as they are (no gradient, eval mode)


class Stage(Protocol):
    """What a training stage provides to the loop."""

    kind: str  # the stage's name (``gapse train KIND``) and, unless ``model_kind`` says otherwise,
    # the model kind its checkpoints are saved as

    def build_model(self) -> nn.Module: ...

    def batches(self, seed: int, rank: int, world: int, start_step: int) -> Iterator[Any]: ...

    def loss(self, model: nn.Module, batch: Any, device: torch.device) -> tuple[torch.Tensor, dict[str, float]]: ...

    def validate(self, model: nn.Module, device: torch.device) -> dict[str, float]: ...


class GANStage(Stage, Protocol):
    """A stage trained against a discriminator (``loss`` is then unused by the loop)."""

    gan_start_step: int
    disc_start_step: int  # first step the discriminator is updated (at most gan_start_step)

    def build_discriminator(self) -> nn.Module | None:
        """The discriminator, or None when this run of the stage trains without one."""
        ...

    def generate(self, model: nn.Module, batch: Any, device: torch.device) -> dict[str, torch.Tensor]:
        """Generator forward: what the discriminator and the generator's loss need (for the waveform
        GANs ``{"real", "fake", ...}``)."""
        ...

    def discriminator_loss(self, disc: nn.Module, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of ``disc`` on ``out["real"]`` and ``out["fake"].detach()``."""
        ...

    def generator_loss(self, disc: nn.Module | None, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Reconstruction (+ adversarial and feature matching when ``disc`` is given)."""
        ...


def lr_at(step: int, total: int, cfg: OptimConfig) -> float:
    """Learning-rate multiplier: linear warm-up, then cosine decay to ``min_lr_ratio``."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _stay_in_eval(module: nn.Module, args: tuple) -> None:
    if module.training:
        module.eval()  # (a pre-hook's return value would replace the inputs: return nothing)


def freeze_submodules(model: nn.Module, names: list[str]) -> int:
    """Keep the named submodules (e.g. a codec's ``encoder`` and ``quantizer``) as they are.

    Their parameters get no gradient (so the optimiser skips them), and each runs in eval mode
    whatever mode the model is in, so buffers updated in training (batch statistics, a VQ
    codebook's EMA) stay put too. Returns the number of parameters frozen.
    """
    frozen_count = 0
    for name in names:
        try:
            module = model.get_submodule(name)
        except AttributeError:
            from ..config import ConfigError

            raise ConfigError(f"trainer.freeze: the model has no submodule {name!r}; its top-level ones: "
                              f"{', '.join(n for n, _ in model.named_children())}") from None
        module.requires_grad_(False)
        module.register_forward_pre_hook(_stay_in_eval)
        frozen_count += sum(p.numel() for p in module.parameters())
    return frozen_count


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def check_replicas_in_sync(model: nn.Module, tol: float = 1e-5) -> None:
    """All ranks must hold the same weights after DDP training; raise if they drifted apart."""
    with torch.no_grad():
        flat = torch.cat([p.detach().float().flatten().cpu() for p in model.parameters()])
        lo, hi = flat.clone(), flat.clone()
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    gap = float((hi - lo).abs().max())
    if gap > tol:
        raise RuntimeError(f"DDP replicas differ by {gap:.3g} after training: gradients were not synchronised")


def _dist_env() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


@dataclass
class Trainer:
    """Runs a :class:`Stage` into ``out_dir`` (``last.pt`` train state, ``model.pt``, ``best.pt``, ``log.csv``)."""

    stage: Stage
    out_dir: Path
    cfg: TrainerConfig = field(default_factory=TrainerConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    device: str = "auto"
    meta: dict = field(default_factory=dict)

    def _setup(self) -> tuple[int, int, torch.device]:
        rank, world, local = _dist_env()
        if self.device == "auto":
            use_cuda = torch.cuda.is_available()
        else:
            use_cuda = self.device.startswith("cuda")
        device = torch.device(f"cuda:{local}" if use_cuda else "cpu")
        if use_cuda:
            torch.cuda.set_device(device)
            torch.backends.cuda.matmul.allow_tf32 = True  # fp32 runs (amp off) use the tensor cores
            torch.backends.cudnn.allow_tf32 = True
        if world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
        if self.cfg.threads:
            torch.set_num_threads(self.cfg.threads)
        return rank, world, device

    def fit(self) -> dict[str, float]:
        """Train to ``cfg.steps`` (resuming from ``out_dir/last.pt`` if present); returns the last validation."""
        rank, world, device = self._setup()
        out = Path(self.out_dir)
        main = rank == 0
        seed_everything(self.cfg.seed + rank)
        model = self.stage.build_model().to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=self.optim.lr, betas=tuple(self.optim.betas),
                                weight_decay=self.optim.weight_decay)
        disc = d_opt = None
        if hasattr(self.stage, "build_discriminator"):
            disc = self.stage.build_discriminator()  # None: this run of the stage has none
        if disc is not None:
            disc = disc.to(device)
            d_opt = torch.optim.AdamW(disc.parameters(), lr=self.optim.lr, betas=tuple(self.optim.betas),
                                      weight_decay=self.optim.weight_decay)
        start, best, elapsed = 0, -float("inf"), 0.0
        state_path = out / "last.pt"
        if state_path.exists():
            state = torch.load(state_path, map_location="cpu", weights_only=True)
            model.load_state_dict(state["model"])
            fresh = []  # moments a slim state (train/portable.py) left out: they start afresh
            if "optimizer" in state:
                opt.load_state_dict(state["optimizer"])
            else:
                fresh.append("the generator's")
            if disc is not None and "discriminator" in state:
                disc.load_state_dict(state["discriminator"])  # a slim state's bfloat16 weights cast back
                if "discriminator_optimizer" in state:
                    d_opt.load_state_dict(state["discriminator_optimizer"])
                else:
                    fresh.append("the discriminators'")
            start, best, elapsed = int(state["step"]), float(state["best"]), float(state.get("elapsed", 0.0))
            torch.set_rng_state(state["torch_rng"])
            if main:
                note = f" ({' and '.join(fresh)} AdamW moments start afresh)" if fresh else ""
                print(f"resumed from {state_path} at step {start}{note}", flush=True)
        elif self.cfg.init:
            from ..checkpoints import read

            state = read(self.cfg.init)["state_dict"]
            own = model.state_dict()
            if self.cfg.init_partial:
                state = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
            model.load_state_dict(state, strict=not self.cfg.init_partial)
            if main:
                grown = "" if self.cfg.init_partial or len(state) == len(own) else (
                    f"; the model filled in the other {len(own) - len(state)} (e.g. new TF-GridNet blocks as identities)")
                print(f"initialised {len(state)} of {len(own)} tensors from {self.cfg.init}{grown}", flush=True)
        if self.cfg.freeze:
            n = freeze_submodules(model, self.cfg.freeze)
            if main:
                print(f"froze {n} parameters in {', '.join(self.cfg.freeze)}", flush=True)
        ddp = nn.parallel.DistributedDataParallel(model) if world > 1 else model
        for group in opt.param_groups:  # a resumed scheduler needs it; fresh moments of a slim state lack it
            group.setdefault("initial_lr", self.optim.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s, self.cfg.steps, self.optim), last_epoch=start - 1)
        ddp_disc = None
        if disc is not None:
            ddp_disc = nn.parallel.DistributedDataParallel(disc) if world > 1 else disc
        use_amp = self.cfg.amp and device.type == "cuda"
        log_path = out / "log.csv"
        if main:
            out.mkdir(parents=True, exist_ok=True)
        last_val: dict[str, float] = {}
        batches = self.stage.batches(self.cfg.seed, rank, world, start)
        bar = None
        if main and self.cfg.progress:
            from tqdm import tqdm

            bar = tqdm(total=self.cfg.steps, initial=start, desc=self.stage.kind, dynamic_ncols=True, mininterval=2.0)
        t0 = time.time() - elapsed
        step = start
        running: dict[str, float] = {}
        counts: dict[str, int] = {}  # a term some steps lack (e.g. one only at 16 kHz) is averaged over the steps that have it
        for step in range(start, self.cfg.steps):
            model.train()
            batch = next(batches)
            if disc is None:
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    loss, logs = self.stage.loss(ddp, batch, device)
            else:
                for group in d_opt.param_groups:  # the generator's schedule
                    group["lr"] = self.optim.lr * lr_at(step, self.cfg.steps, self.optim)
                loss, logs = self._gan_step(ddp, disc, ddp_disc, d_opt, batch, device, step, use_amp)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = nn.utils.clip_grad_norm_(model.parameters(), self.optim.grad_clip)
            if torch.isfinite(gnorm):
                opt.step()
            sched.step()
            for k, v in {"loss": loss.item(), **logs}.items():
                running[k] = running.get(k, 0.0) + float(v)
                counts[k] = counts.get(k, 0) + 1
            done = step + 1
            if main and done % self.cfg.log_every == 0:
                row = {k: v / counts[k] for k, v in running.items()}
                running, counts = {}, {}
                row.update(step=done, lr=sched.get_last_lr()[0], seconds=round(time.time() - t0, 1))
                self._log(log_path, row)
                if bar is not None:
                    bar.set_postfix(loss=f"{row['loss']:.3f}")
            if bar is not None:
                bar.update(1)
            is_last = done == self.cfg.steps
            if main and self.cfg.val_every > 0 and (done % self.cfg.val_every == 0 or is_last):
                last_val = self.stage.validate(model, device)
                self._log(log_path, {"step": done, "seconds": round(time.time() - t0, 1),
                                     **{f"val_{k}": v for k, v in last_val.items()}})
                if bar is not None:
                    bar.write(f"step {done}: " + ", ".join(f"{k} {v:.3f}" for k, v in last_val.items()))
                score = last_val.get("score", -float("inf"))
                if score > best:
                    best = score
                    save_model(out / "best.pt", model, self._model_kind, self._meta(done, t0, last_val))
            if main and (done % self.cfg.ckpt_every == 0 or is_last):
                state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": done,
                         "best": best, "elapsed": time.time() - t0, "torch_rng": torch.get_rng_state()}
                if disc is not None:
                    state.update(discriminator=disc.state_dict(), discriminator_optimizer=d_opt.state_dict())
                atomic_save(state, state_path)
                save_model(out / "model.pt", model, self._model_kind, self._meta(done, t0, last_val))
        if bar is not None:
            bar.close()
        if world > 1:
            del ddp, ddp_disc, batches  # release DDP's reducer (and data workers) before the process group goes
            check_replicas_in_sync(model)
            dist.barrier()
            dist.destroy_process_group()
        return last_val

    @property
    def _model_kind(self) -> str:
        return getattr(self.stage, "model_kind", self.stage.kind)

    def _gan_step(self, ddp: nn.Module, disc: nn.Module, ddp_disc: nn.Module, d_opt: torch.optim.Optimizer,
                  batch: Any, device: torch.device, step: int, use_amp: bool) -> tuple[torch.Tensor, dict[str, float]]:
        """Discriminator update, then the generator's loss (returned for the caller's update)."""
        adversarial = step >= self.stage.gan_start_step
        train_disc = step >= self.stage.disc_start_step
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            out = self.stage.generate(ddp, batch, device)
        logs: dict[str, float] = {}
        if train_disc:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                d_loss, d_logs = self.stage.discriminator_loss(ddp_disc, out)
            d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            d_norm = nn.utils.clip_grad_norm_(disc.parameters(), self.optim.grad_clip)
            if torch.isfinite(d_norm):
                d_opt.step()
            logs.update(d_loss=d_loss.item(), **d_logs)
        disc.requires_grad_(False)  # the generator's step must not touch the discriminator
        try:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss, g_logs = self.stage.generator_loss(disc if adversarial else None, out)
        finally:
            disc.requires_grad_(True)
        logs.update(g_logs)
        return loss, logs

    def _meta(self, step: int, t0: float, val: dict[str, float]) -> dict:
        return {**self.meta, "steps": step, "train_seconds": round(time.time() - t0, 1),
                "world_size": _dist_env()[1], "validation": dict(val)}

    @staticmethod
    def _log(path: Path, row: dict[str, Any]) -> None:
        """Append ``row`` to the CSV log (the header grows with new columns)."""
        rows: list[dict[str, Any]] = []
        fields: list[str] = []
        if path.exists():
            with open(path, newline="") as fh:
                reader = csv.DictReader(fh)
                fields = list(reader.fieldnames or [])
                rows = list(reader)
        for k in row:
            if k not in fields:
                fields.append(k)
        rows.append({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, path)
