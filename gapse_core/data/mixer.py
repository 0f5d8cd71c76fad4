"""On-the-fly training examples following the URGENT Track 1 simulation.

``Mixer.example`` draws one (noisy, target) pair: a speech crop, optionally reverberated by a
simulated or measured room (target = early reverberation), noise at SNR U[-5, 20] dB (recorded
noise, babble from other speakers of the same split, coloured or wind noise), then 0-3 extra
distortions (bandwidth limit, clipping, codec, packet loss), and the URGENT peak scaling.
Every random choice is recorded in the returned parameters.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..audio.resample import resample
from . import degrade as D
from .corpus import Clip, Corpus

DISTORTIONS = ("bandwidth", "clipping", "codec", "packet_loss")


@dataclass
class MixtureConfig:
    """Probabilities and ranges of the simulation (defaults: URGENT Track 1)."""

    snr_db: tuple[float, float] = (-5.0, 20.0)
    p_reverb: float = 0.5
    p_babble: float = 0.1
    p_colored: float = 0.1
    p_wind: float = 0.05
    wind_snr_db: tuple[float, float] = (-10.0, 15.0)
    n_extra_probs: tuple[float, float, float, float] = (0.25, 0.40, 0.20, 0.15)
    distortions: tuple[str, ...] = DISTORTIONS
    packet_loss_rate: tuple[float, float] = (0.05, 0.25)
    p_simulated_rir: float = 0.8
    target_early_ms: float = 50.0  # the target keeps the RIR's first target_early_ms after its direct path
    rir_bank_size: int = 48
    gain_db: tuple[float, float] = (-25.0, 0.0)


def rir_bank(n: int, seed: int, fs: int = 48000, cache_dir: str | Path | None = None) -> list[np.ndarray]:
    """``n`` simulated RIRs at ``fs`` (cached on disk: the image method takes a while)."""
    cache = Path(cache_dir or os.environ.get("GAPSE_CACHE", Path.home() / ".cache" / "gapse"))
    key = hashlib.sha1(f"rir-{n}-{seed}-{fs}-v1".encode()).hexdigest()[:12]
    path = cache / f"rirs_{key}.npz"
    if path.exists():
        with np.load(path) as z:
            return [z[k] for k in sorted(z.files, key=int)]
    rng = np.random.default_rng(seed)
    rirs = [D.simulate_rir(rng, fs)[0] for _ in range(n)]
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial.npz")
    np.savez(tmp, **{str(i): r for i, r in enumerate(rirs)})
    os.replace(tmp, path)
    return rirs


@dataclass
class Mixer:
    """Draws simulated examples from one corpus split."""

    corpus: Corpus
    cfg: MixtureConfig = field(default_factory=MixtureConfig)
    rir_seed: int = 0
    _rirs: list[np.ndarray] | None = None

    @property
    def rirs(self) -> list[np.ndarray]:
        if self._rirs is None:
            self._rirs = rir_bank(self.cfg.rir_bank_size, self.rir_seed) if self.cfg.p_reverb > 0 else []
        return self._rirs

    def speech(self, rng: np.random.Generator, fs: int, n: int, exclude: str | None = None) -> tuple[np.ndarray, Clip]:
        """A random speech crop ``[n]`` at ``fs`` (zero-padded when the utterance is shorter) and its clip."""
        while True:
            clip = self.corpus.speech[int(rng.integers(len(self.corpus.speech)))]
            if clip.group != exclude or len({c.group for c in self.corpus.speech}) == 1:
                break
        need = int(np.ceil(n * clip.fs / fs)) + 64
        w = clip.wave
        if len(w) > need:
            s = int(rng.integers(0, len(w) - need + 1))
            w = w[s:s + need]
        y = resample(w, clip.fs, fs)[:n]
        return np.pad(y, (0, n - len(y))), clip

    def _noise(self, rng: np.random.Generator, fs: int, n: int, speaker: str) -> tuple[np.ndarray, dict]:
        u = rng.uniform()
        c = self.cfg
        if u < c.p_wind:
            return D.wind_noise(n, fs, rng), {"noise": "wind"}
        if u < c.p_wind + c.p_babble:
            k = int(rng.integers(3, 8))
            utts = [self.speech(rng, fs, n, exclude=speaker)[0] for _ in range(k)]
            return D.make_babble(utts, n, rng), {"noise": f"babble{k}"}
        if u < c.p_wind + c.p_babble + c.p_colored or not self.corpus.noise:
            e = float(rng.uniform(0.0, 2.0))
            return D.colored_noise(n, e, rng), {"noise": f"colored{e:.2f}"}
        clip = self.corpus.noise[int(rng.integers(len(self.corpus.noise)))]
        need = int(np.ceil(n * clip.fs / fs)) + 64
        seg = D.fit_length(clip.wave, need, rng)
        y = resample(seg, clip.fs, fs)[:n]
        return np.pad(y, (0, n - len(y))), {"noise": clip.name}

    def example(self, rng: np.random.Generator, fs: int, seconds: float,
                distortions: tuple[str, ...] | None = None, snr_db: float | None = None,
                reverb: bool | None = None) -> dict:
        """One example at ``fs`` Hz, ``seconds`` long.

        Args:
            distortions: force this set of extra distortions (default: drawn per URGENT).
            snr_db: force the SNR (default: drawn).
            reverb: force reverberation on/off (default: drawn with ``p_reverb``).

        Returns:
            dict with ``noisy [n]``, ``clean [n]`` (the target: dry or early-reverberant speech),
            ``fs`` and ``params`` (every random choice, JSON-friendly).
        """
        c = self.cfg
        n = int(round(seconds * fs))
        speech, clip = self.speech(rng, fs, n)
        params: dict = {"fs": fs, "speech": clip.name, "speaker": clip.group}
        target = speech
        use_reverb = (rng.uniform() < c.p_reverb) if reverb is None else reverb
        if use_reverb:
            measured = self.corpus.rirs and rng.uniform() > c.p_simulated_rir
            if measured:
                rc = self.corpus.rirs[int(rng.integers(len(self.corpus.rirs)))]
                rir, rname = resample(rc.wave, rc.fs, fs), rc.name
            else:
                i = int(rng.integers(len(self.rirs)))
                rir, rname = resample(self.rirs[i], 48000, fs), f"sim{self.rir_seed}-{i}"
            speech, target = D.reverberate(speech, rir, fs, early_ms=c.target_early_ms)
            params["rir"] = rname
        noise, nparams = self._noise(rng, fs, n, clip.group)
        params.update(nparams)
        lo, hi = c.wind_snr_db if nparams["noise"] == "wind" else c.snr_db
        snr = float(rng.uniform(lo, hi)) if snr_db is None else float(snr_db)
        noisy, noise = D.add_noise(speech, noise, snr, fs)
        params["snr_db"] = round(snr, 2)
        if distortions is None:
            k = int(rng.choice(len(c.n_extra_probs), p=np.asarray(c.n_extra_probs) / sum(c.n_extra_probs)))
            distortions = tuple(rng.choice(c.distortions, size=min(k, len(c.distortions)), replace=False))
        for name in distortions:
            noisy = self._distort(name, noisy, fs, rng, params)
        params["distortions"] = "+".join(distortions) if distortions else "none"
        scale = 0.9 / max(np.abs(noisy).max(), np.abs(target).max(), np.abs(noise).max(), 1e-6)
        gain = scale * 10 ** (rng.uniform(*c.gain_db) / 20)
        params["gain"] = round(float(gain), 5)
        return {"noisy": (noisy * gain).astype(np.float32), "clean": (target * gain).astype(np.float32),
                "fs": fs, "params": params}

    def _distort(self, name: str, x: np.ndarray, fs: int, rng: np.random.Generator, params: dict) -> np.ndarray:
        if name == "bandwidth":
            lower = [r for r in D.URGENT_RATES if r < fs] or [fs]
            low = int(rng.choice(lower))
            method = str(rng.choice(["soxr", "polyphase", "fft"]))
            params["bandwidth"] = f"{low}/{method}"
            return D.bandwidth_limit(x, fs, low, method)
        if name == "clipping":
            lo, hi = float(rng.uniform(0.0, 0.1)), float(rng.uniform(0.9, 1.0))
            params["clipping"] = f"{lo:.3f}/{hi:.3f}"
            return D.clip(x, lo, hi)
        if name == "codec":
            kind = str(rng.choice(["mp3", "vorbis", "opus"]))
            q = float(rng.uniform(0.0, 1.0))
            params["codec"] = f"{kind}/{q:.2f}"
            return D.codec(x, fs, kind, q)
        if name == "packet_loss":
            rate = float(rng.uniform(*self.cfg.packet_loss_rate))
            params["packet_loss"] = round(rate, 3)
            return D.packet_loss(x, fs, rate, rng)[0]
        raise ValueError(f"unknown distortion {name!r}")
