"""System presets and the ``Enhancer`` that runs one, returning every intermediate.

A *system* names the models it uses and how their outputs combine. Everything a user sees
(CLI, demo, notebooks) calls :class:`Enhancer` and consumes :class:`EnhancementResult`; none of
them knows how a branch works inside.

Systems available now:

============== ===================================================================
predictive     TF-GridNet complex spectral mapping (``predictor-small``)
gap-generative GAP-URGENet's generative branch: DeWavLM-Omni -> adapter -> vocoder
               (``dewavlm-small``, ``adapter-small``, ``vocoder-small``)
paragse        ParaGSE: group-VQ codec tokens of the input -> clean tokens, all groups
               in one parallel pass -> codec decoder (``codec-small``, ``paragse-small``)
paragse-fusion the predictive branch and ParaGSE mixed by the mask-fusion network
               (``fusion-paragse-small``); in no paper
gap-fusion     the predictive branch and GAP-URGENet's generative branch mixed by the
               mask-fusion network (``fusion-gap-small``)
gap-urgenet    GAP-URGENet: the same two branches fused and band-extended by the 48 kHz
               PostNet (``postnet-gap-small``)
hybrid-        the hybrid system's generative branch alone: DeWavLM-Omni features as the
generative     prefix of a token LM (first-layer residual-VQ tokens, decoded one by one with
               a KV cache) whose hidden states steer a DPRNN mask (``dewavlm-small``,
               ``hybrid-small``)
hybrid         the hybrid discriminative-generative system: the predictive branch and that
               generative branch mixed by the mask-fusion network (``fusion-hybrid-small``)
============== ===================================================================

Each branch has a fixed name (``predictive``, ``generative``) that outputs and files use
(``NAME.predictive.wav``). A system with a ``fusion`` checkpoint returns the mask and the
fused signal too, and the fused signal is its final output; a system with a ``postnet``
returns the PostNet's output as its final output (``fused`` and ``mask`` stay ``None``).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .audio.chunking import chunk_spans, process_in_chunks
from .audio.io import MAX_RATE, load, validate
from .audio.level import local_level
from .audio.resample import resample, resample_to_length
from .checkpoints import load_model


@dataclass(frozen=True)
class SystemSpec:
    """A system: the checkpoints it needs (role -> shipped name), the branches it returns, a description."""

    name: str
    checkpoints: dict[str, str]
    branches: tuple[str, ...]
    description: str


# the model kind (``checkpoints.MODEL_KINDS``) each checkpoint role must hold
ROLE_KINDS: dict[str, str] = {"predictor": "predictor", "dewavlm": "ssl", "adapter": "adapter", "vocoder": "vocoder",
                              "codec": "codec", "paragse": "paragse", "hybrid": "hybrid", "fusion": "mask_fusion",
                              "postnet": "postnet"}

SYSTEMS: dict[str, SystemSpec] = {
    "predictive": SystemSpec("predictive", {"predictor": "predictor-small"}, ("predictive",),
                             "TF-GridNet predictive branch alone (any rate 8-48 kHz)"),
    "gap-generative": SystemSpec(
        "gap-generative", {"dewavlm": "dewavlm-small", "adapter": "adapter-small", "vocoder": "vocoder-small"},
        ("generative",), "GAP-URGENet generative branch alone: DeWavLM-Omni -> adapter -> vocoder "
        "(speech resynthesised at 16 kHz, so no content above 8 kHz)"),
    "paragse": SystemSpec(
        "paragse", {"codec": "codec-small", "paragse": "paragse-small"}, ("generative",),
        "ParaGSE: clean codec tokens predicted from the degraded speech and its tokens, every group in "
        "parallel, decoded by the codec (16 kHz band)"),
    "paragse-fusion": SystemSpec(
        "paragse-fusion", {"predictor": "predictor-small", "codec": "codec-small", "paragse": "paragse-small",
                           "fusion": "fusion-paragse-small"}, ("predictive", "generative"),
        "predictive branch + ParaGSE, mixed per time-frequency bin by the mask-fusion network "
        "(M = 1 keeps the predictive branch; above 8 kHz it always does)"),
    "gap-fusion": SystemSpec(
        "gap-fusion", {"predictor": "predictor-small", "dewavlm": "dewavlm-small", "adapter": "adapter-small",
                       "vocoder": "vocoder-small", "fusion": "fusion-gap-small"}, ("predictive", "generative"),
        "predictive branch + GAP-URGENet's generative branch, mixed per time-frequency bin by the "
        "mask-fusion network (M = 1 keeps the predictive branch; above 8 kHz it always does)"),
    "gap-urgenet": SystemSpec(
        "gap-urgenet", {"predictor": "predictor-small", "dewavlm": "dewavlm-small", "adapter": "adapter-small",
                        "vocoder": "vocoder-small", "postnet": "postnet-gap-small"}, ("predictive", "generative"),
        "GAP-URGENet: the predictive branch and GAP-URGENet's generative branch, fused and band-extended by "
        "the 48 kHz PostNet (the shipped one learned the band up to 8 kHz; above it the predictive branch passes)"),
    "hybrid-generative": SystemSpec(
        "hybrid-generative", {"dewavlm": "dewavlm-small", "hybrid": "hybrid-small"}, ("generative",),
        "hybrid system's generative branch alone: DeWavLM-Omni features prefix a token LM (codec tokens decoded "
        "one by one) whose hidden states steer a DPRNN mask on the degraded spectrum (16 kHz band)"),
    "hybrid": SystemSpec(
        "hybrid", {"predictor": "predictor-small", "dewavlm": "dewavlm-small", "hybrid": "hybrid-small",
                   "fusion": "fusion-hybrid-small"}, ("predictive", "generative"),
        "hybrid discriminative-generative system: the predictive branch and the token-LM-guided DPRNN branch, "
        "mixed per time-frequency bin by the mask-fusion network (above 8 kHz the predictive branch passes)"),
}


# How the Enhancer runs the branches: raise it whenever the same checkpoints would give other outputs,
# so caches of branch outputs (train/branch_cache.py) are made anew. 2: the predictive branch's
# level follower (audio.level.local_level), 2026-11-25; 3: every stage follows the level, the same day;
# 4: the hybrid's generative branch runs in 2 s chunks (HybridGenerative.chunk_seconds); 5: the level
# follower takes the quieter of the two one-sided windows (audio.level.local_level), and a second
# predictive pass follows the input's level, 2026-12-08.
ENHANCER_VERSION = 5

# How many times the predictive branch runs by default, each pass on the previous one's output. A
# second pass takes out residual noise the first left (DNSMOS OVRL +0.05, BAK +0.14 to +0.16 on two
# held-out sets, SI-SDR -0.1 to -0.3 dB; predictor-small.md, "A second pass") for twice the
# branch's computation, which puts 10 min at 48 kHz over RTF 0.5 on a 2-core CPU: so it is asked
# for (``Enhancer(predictive_passes=2)``, ``--predictive-passes 2``), not the default.
PREDICTIVE_PASSES = 1

Progress = Callable[[str, int, int], None]  # (stage, chunks done, chunks in all): see Enhancer.enhance


@dataclass
class EnhancementResult:
    """Everything one enhancement produced, all at the input's rate and length ``[n]``."""

    system: str
    fs: int
    input: np.ndarray
    final: np.ndarray
    branches: dict[str, np.ndarray] = field(default_factory=dict)  # e.g. {"predictive": y}
    # [F, T] fusion mask on the 32 ms / 16 ms SFI STFT at min(fs, MAX_RATE) (systems with fusion)
    mask: np.ndarray | None = None
    fused: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    device: str = "cpu"

    def distinct_branches(self) -> dict[str, np.ndarray]:
        """The branches whose output is not simply the final output (worth showing or scoring apart)."""
        return {k: y for k, y in self.branches.items() if y is not self.final and not np.array_equal(y, self.final)}


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but no CUDA GPU is available")
    return torch.device(device)


class Enhancer:
    """Runs a system on waveforms of any supported rate.

    Args:
        system: a key of ``SYSTEMS``.
        device: ``auto`` | ``cpu`` | ``cuda``.
        checkpoints: role -> checkpoint name or path, replacing the system's defaults
            (e.g. ``{"predictor": "runs/x/best.pt"}``).
        chunk_seconds / overlap_seconds: long inputs are processed in overlapping chunks so
            memory stays flat (and the attention's T x T matrix stays small).
        generative_chunk_seconds: the generative branch's chunks (at most ``chunk_seconds``); by
            default the branch's own ``chunk_seconds`` where it has one (the hybrid's token LM:
            its 2 s training crops), else ``chunk_seconds``.
        predictive_passes: how many times the predictive branch runs, each pass on the previous
            pass's output at the input's level (default ``PREDICTIVE_PASSES``); every system with a
            predictive branch uses the same number, so its branch is the ``predictive`` system's output.
    """

    MIN_SECONDS = 0.1  # shorter inputs are zero-padded for the models, then cut back

    def __init__(self, system: str = "predictive", device: str = "auto", checkpoints: dict[str, str] | None = None,
                 chunk_seconds: float = 8.0, overlap_seconds: float = 0.5,
                 generative_chunk_seconds: float | None = None, predictive_passes: int | None = None) -> None:
        if system not in SYSTEMS:
            raise ValueError(f"unknown system {system!r}; known: {', '.join(SYSTEMS)}")
        self.spec = SYSTEMS[system]
        self.device = pick_device(device)
        self.chunk_seconds, self.overlap_seconds = chunk_seconds, overlap_seconds
        self.predictive_passes = _passes(PREDICTIVE_PASSES if predictive_passes is None else predictive_passes)
        unknown = set(checkpoints or {}) - set(self.spec.checkpoints)
        if unknown:
            raise ValueError(f"system {system!r} has no checkpoint role {', '.join(sorted(unknown))}; "
                             f"its roles: {', '.join(self.spec.checkpoints)}")
        names = {**self.spec.checkpoints, **(checkpoints or {})}
        self.models = {role: load_model(ckpt, self.device, kind=ROLE_KINDS[role])[0] for role, ckpt in names.items()}
        self.generative = self._generative_branch()
        self.generative_chunk_seconds = generative_chunk_seconds or getattr(self.generative, "chunk_seconds",
                                                                            chunk_seconds)

    def _generative_branch(self):
        """The system's generative branch as one module with ``enhance(wave, fs)`` (or None)."""
        if "hybrid" in self.models:
            from .models.hybrid_generative import HybridGenerative

            return HybridGenerative(self.models["dewavlm"], self.models["hybrid"])
        if "dewavlm" in self.models:
            from .models.gap_generative import GAPGenerative

            return GAPGenerative(self.models["dewavlm"], self.models["adapter"], self.models["vocoder"])
        if "paragse" in self.models:
            from .models.paragse_generative import ParaGSEGenerative

            return ParaGSEGenerative(self.models["codec"], self.models["paragse"])
        return None

    @property
    def system(self) -> str:
        return self.spec.name

    def with_predictive_passes(self, passes: int) -> Enhancer:
        """This enhancer with ``passes`` predictive passes, sharing its loaded models (nothing is
        loaded again): a server keeps one ``Enhancer`` per system and asks for the passes per request.
        ``self`` when ``passes`` is already its number; ``self`` is never changed."""
        passes = _passes(passes)
        if passes == self.predictive_passes:
            return self
        other = copy.copy(self)
        other.predictive_passes = passes
        return other

    def _predictive(self, wave: np.ndarray, fs: int, tick: Callable[[], None]) -> np.ndarray:
        """The predictive branch, ``predictive_passes`` times, each pass on the last one's output:
        ``wave [n] -> [n]``.

        Every pass follows the *input's* level (``_chunked`` measures its first column): the last
        pass's output, with the noise taken out of its pauses, would measure quieter there, and the
        one-sided follower would then push the speech beside each pause into the network too loud
        (measured: PESQ-WB 1.780 against 1.823 for two passes on the acceptance set).
        """
        model = self.models["predictor"]

        def run(chunk: np.ndarray) -> np.ndarray:  # [n, 1 or 2]: the signal to enhance is the last column
            with torch.inference_mode():
                return model(torch.from_numpy(chunk[:, -1])[None].to(self.device), fs)[0].float().cpu().numpy()

        y = self._chunked(run, wave[:, None], fs, tick)  # float32 in (validate) and out (process_in_chunks)
        for _ in range(self.predictive_passes - 1):
            y = self._chunked(run, np.stack([wave, y], 1), fs, tick)
        return y

    def _generative(self, wave: np.ndarray, fs: int, tick: Callable[[], None]) -> np.ndarray:
        """The generative branch, in chunks of ``generative_chunk_seconds``: ``wave [n] -> [n]``."""
        return self._chunked(lambda chunk: self.generative.enhance(chunk[:, 0], fs), wave[:, None], fs, tick,
                             self._chunk_plan(fs, "generative"))

    def _chunk_plan(self, fs: int, stage: str = "") -> tuple[int, int, int]:
        """``(chunk, overlap, align)`` in samples at ``fs`` for ``stage`` (``"generative"`` gets
        ``generative_chunk_seconds``, every other stage ``chunk_seconds``; the overlap is at most a
        quarter of a chunk). Chunk starts are multiples of 20 ms, so the 20 ms packets whose loss
        the generative branches detect keep their grid in every chunk."""
        seconds = min(self.chunk_seconds, self.generative_chunk_seconds) if stage == "generative" else self.chunk_seconds
        overlap = min(self.overlap_seconds, seconds / 4)
        return int(seconds * fs), int(overlap * fs), max(1, round(fs / 50))

    def _chunked(self, run: Callable[[np.ndarray], np.ndarray], signals: np.ndarray, fs: int,
                 tick: Callable[[], None], plan: tuple[int, int, int] | None = None) -> np.ndarray:
        """``run`` over ``signals [n, k]`` (column 0: the input; then what earlier stages made of it)
        chunk by chunk, every stretch at its own level: ``[n]``.

        Each chunk's signals are divided by the input's :func:`local_level` before ``run`` and
        its output ``[m]`` is multiplied back. Every model was trained on segments normalised as
        a whole (and normalises each chunk as a whole), so without this a talker 10 dB quieter
        than another in the same chunk reads as the babble the models were trained to remove.
        """
        def at_own_level(chunk: np.ndarray) -> np.ndarray:
            level = local_level(chunk[:, 0], fs)
            return run(chunk / level[:, None]) * level

        return process_in_chunks(_then(at_own_level, tick), signals, *(plan or self._chunk_plan(fs)))

    def enhance(self, wave: np.ndarray, fs: int, progress: Progress | None = None,
                limit_peak: bool = True) -> EnhancementResult:
        """Enhance ``wave [n]`` (or ``[n, channels]``, downmixed) at ``fs`` Hz.

        ``progress(stage, done, total)`` is called after every chunk of every stage (branches,
        then fusion or PostNet): ``done`` of ``total`` chunks of the whole run, so a caller can
        show a progress bar for a long input. Every output signal is scaled down where its peak
        exceeds ``PEAK``; with ``limit_peak=False`` none is (a caller that enhances a long file
        block by block limits the whole file once: :mod:`gapse_core.streaming`).
        """
        x = validate(wave, fs)
        limit = _limit_peak if limit_peak else _finite
        if fs > MAX_RATE:
            return self._enhance_at_model_rate(x, fs, progress, limit)
        n = len(x)
        pad = max(0, int(self.MIN_SECONDS * fs) - n)
        xp = np.pad(x, (0, pad))
        stages = [*self.spec.branches, *(s for s in ("fusion", "postnet") if s in self.models)]
        total = sum(len(chunk_spans(len(xp), *self._chunk_plan(fs, stage)))
                    * (self.predictive_passes if stage == "predictive" else 1) for stage in stages)
        done = 0

        def ticker(stage: str) -> Callable[[], None]:
            def tick() -> None:
                nonlocal done
                done += 1
                if progress is not None:
                    progress(stage, done, total)
            return tick

        timings: dict[str, float] = {}
        branches: dict[str, np.ndarray] = {}
        for name in self.spec.branches:
            t = time.perf_counter()
            branches[name] = limit(getattr(self, f"_{name}")(xp, fs, ticker(name)))
            timings[name] = time.perf_counter() - t
        mask = fused = None
        if "fusion" in self.models:
            t = time.perf_counter()
            fused, mask = self._fuse(xp, branches["predictive"], branches["generative"], fs, ticker("fusion"))
            fused = limit(fused[:n])
            mask = mask[:, : n // self.models["fusion"].stft.hop(fs) + 1]
            timings["fusion"] = time.perf_counter() - t
        post = None
        if "postnet" in self.models:
            t = time.perf_counter()
            post = self._postnet(xp, branches["predictive"], branches["generative"], fs, ticker("postnet"))
            post = limit(post[:n])
            timings["postnet"] = time.perf_counter() - t
        branches = {name: y[:n] for name, y in branches.items()}
        final = next(y for y in (post, fused, branches[self.spec.branches[0]]) if y is not None)
        return EnhancementResult(self.system, fs, x, final, branches, mask=mask, fused=fused, timings=timings,
                                 device=str(self.device))

    def _enhance_at_model_rate(self, x: np.ndarray, fs: int, progress: Progress | None,
                               limit: Callable[[np.ndarray], np.ndarray]) -> EnhancementResult:
        """An input above the models' top rate (88.2, 96, 192 kHz): enhanced at ``MAX_RATE``, then
        every signal resampled back to ``fs`` and ``len(x)`` samples. What lay above 24 kHz (inaudible)
        is not kept. The mask stays on the 48 kHz STFT grid: its bins are as wide as at any rate
        (31.25 Hz), so it is the lower part, 0-24 kHz, of a spectrogram at ``fs``."""
        t = time.perf_counter()
        r = self.enhance(resample(x, fs, MAX_RATE), MAX_RATE, progress, limit_peak=limit is _limit_peak)
        back: dict[int, np.ndarray] = {}  # id -> resampled: a branch that is the final output stays the same array

        def up(y: np.ndarray) -> np.ndarray:
            if id(y) not in back:
                back[id(y)] = limit(resample_to_length(y, MAX_RATE, fs, len(x)))
            return back[id(y)]

        final, branches = up(r.final), {name: up(y) for name, y in r.branches.items()}
        fused = None if r.fused is None else up(r.fused)
        timings = {**r.timings, f"resampling to {MAX_RATE} Hz and back": time.perf_counter() - t - sum(r.timings.values())}
        return EnhancementResult(self.system, fs, x, final, branches, mask=r.mask, fused=fused, timings=timings,
                                 device=r.device)

    def _fuse(self, x: np.ndarray, pred: np.ndarray, gen: np.ndarray, fs: int,
              tick: Callable[[], None]) -> tuple[np.ndarray, np.ndarray]:
        """Mask fusion, chunk by chunk like the branches: ``(fused [n], mask [F, T] float16)``.

        The mask of each chunk is written from the middle of its overlap with the previous one.
        """
        model = self.models["fusion"]
        hop, (chunk, overlap, align) = model.stft.hop(fs), self._chunk_plan(fs)
        masks: list[np.ndarray] = []

        def run(block: np.ndarray) -> np.ndarray:
            args = [torch.from_numpy(np.ascontiguousarray(block[:, i], np.float32))[None].to(self.device)
                    for i in range(3)]
            with torch.inference_mode():
                y, m = model(*args, fs)
            masks.append(m[0].cpu().numpy().astype(np.float16))
            return y[0].float().cpu().numpy()

        fused = self._chunked(run, np.stack([x, pred, gen], 1), fs, tick)
        if len(masks) == 1:
            return fused, masks[0]
        full = np.ones((masks[0].shape[0], len(x) // hop + 1), np.float16)
        for k, ((start, _), m) in enumerate(zip(chunk_spans(len(x), chunk, overlap, align), masks)):
            g0 = int(round(start / hop))
            skip = 0 if k == 0 else (overlap // hop) // 2
            stop = min(full.shape[1], g0 + m.shape[1])
            full[:, g0 + skip:stop] = m[:, skip:stop - g0]
        return fused, full

    def _postnet(self, x: np.ndarray, pred: np.ndarray, gen: np.ndarray, fs: int,
                 tick: Callable[[], None]) -> np.ndarray:
        """GAP-URGENet's PostNet, chunk by chunk: both branches to 48 kHz, PostNet, back to ``fs``: ``[n]``."""
        model = self.models["postnet"]
        return self._chunked(lambda block: model.enhance(block[:, 1], block[:, 2], fs), np.stack([x, pred, gen], 1),
                             fs, tick)

    def enhance_file(self, path: str | Path) -> EnhancementResult:
        wave, fs = load(path)
        return self.enhance(wave, fs)


def _passes(n: int) -> int:
    """A number of predictive passes, checked: at least 1."""
    if int(n) != n or n < 1:
        raise ValueError(f"predictive_passes must be a whole number of at least 1, got {n}")
    return int(n)


def _then(fn: Callable[[np.ndarray], np.ndarray], after: Callable[[], None]) -> Callable[[np.ndarray], np.ndarray]:
    """``fn``, calling ``after()`` once each call has returned."""
    def wrapped(chunk: np.ndarray) -> np.ndarray:
        y = fn(chunk)
        after()
        return y
    return wrapped


PEAK = 0.999  # the largest sample an output keeps; louder outputs are scaled down as a whole


def _finite(y: np.ndarray) -> np.ndarray:
    """``y`` as float32 with NaNs made zeros (infinities the largest floats)."""
    return np.nan_to_num(y.astype(np.float32, copy=False))


def _limit_peak(y: np.ndarray, peak: float = PEAK) -> np.ndarray:
    """Scale down (never up) so no sample exceeds ``peak``; NaNs become zeros."""
    y = _finite(y)
    m = float(np.max(np.abs(y))) if y.size else 0.0
    return y * (peak / m) if m > peak else y
