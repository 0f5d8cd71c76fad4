"""URGENT Track 1 distortions, one small seeded function each.

Every function takes a float32 waveform ``[n]`` (and its rate), a ``numpy.random.Generator``
or explicit parameters, and returns a waveform of the same length. Parameters drawn at random
are returned too, so an evaluation manifest can record them.
"""

from __future__ import annotations

import io

import numpy as np
import scipy.signal as ss
import soundfile as sf

from ..audio.resample import resample, resample_to_length

URGENT_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
EPS = 1e-8


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + EPS))


def active_rms(x: np.ndarray, fs: int, frame_ms: float = 20.0, floor_db: float = -40.0) -> float:
    """RMS over frames within ``floor_db`` of the loudest frame (ignores silences)."""
    n = max(1, int(fs * frame_ms / 1000))
    frames = x[: len(x) // n * n].reshape(-1, n) if len(x) >= n else x[None]
    e = np.mean(np.square(frames, dtype=np.float64), axis=1)
    keep = e >= e.max() * 10 ** (floor_db / 10)
    return float(np.sqrt(np.mean(e[keep]) + EPS))


def fit_length(noise: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random crop of ``noise`` to ``n`` samples, or loop it (with a random start) when shorter."""
    if len(noise) >= n:
        start = int(rng.integers(0, len(noise) - n + 1))
        return noise[start:start + n]
    reps = int(np.ceil(n / len(noise))) + 1
    tiled = np.tile(noise, reps)
    start = int(rng.integers(0, len(noise)))
    return tiled[start:start + n]


def add_noise(speech: np.ndarray, noise: np.ndarray, snr_db: float, fs: int) -> tuple[np.ndarray, np.ndarray]:
    """Mix ``noise`` (same length) into ``speech`` at ``snr_db`` (active-speech RMS vs noise RMS).

    Returns ``(noisy, scaled_noise)``.
    """
    gain = active_rms(speech, fs) / (rms(noise) * 10 ** (snr_db / 20))
    scaled = (noise * gain).astype(np.float32)
    return (speech + scaled).astype(np.float32), scaled


def make_babble(utterances: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """Sum of several utterances (each cropped/looped to ``n`` and RMS-normalised)."""
    out = np.zeros(n, dtype=np.float32)
    for u in utterances:
        seg = fit_length(u, n, rng)
        out += seg / rms(seg)
    return out / max(len(utterances), 1)


def colored_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    spec /= f ** (exponent / 2)
    x = np.fft.irfft(spec, n).astype(np.float32)
    return x / rms(x)


# --- reverberation ---------------------------------------------------------------------------

def early_rir(rir: np.ndarray, fs: int, early_ms: float = 50.0) -> np.ndarray:
    """The RIR up to ``early_ms`` after its direct path (its largest peak); the training target's filter."""
    peak = int(np.argmax(np.abs(rir)))
    end = min(len(rir), peak + int(early_ms * fs / 1000))
    return rir[:end]


def reverberate(speech: np.ndarray, rir: np.ndarray, fs: int, early_ms: float = 50.0) -> tuple[np.ndarray, np.ndarray]:
    """Convolve with ``rir`` (at ``fs``), aligned so the direct path stays in place.

    Returns ``(reverberant, early)``: the full reverberant speech and the early-reverberation
    target (first ``early_ms`` after the direct path), both ``[n]``.
    """
    rir = rir / (np.max(np.abs(rir)) + EPS)
    peak = int(np.argmax(np.abs(rir)))
    n = len(speech)
    full = ss.fftconvolve(speech, rir)[peak:peak + n]
    early = ss.fftconvolve(speech, early_rir(rir, fs, early_ms))[peak:peak + n]
    return full.astype(np.float32), early.astype(np.float32)


def simulate_rir(rng: np.random.Generator, fs: int = 16000, rt60: float | None = None) -> tuple[np.ndarray, dict]:
    """A shoebox-room RIR from pyroomacoustics (image source method), random room and positions.

    Args:
        rt60: reverberation time in seconds (default: drawn from U[0.15, 1.0]).

    Returns ``(rir [m], params)`` with the room size, target RT60 and source-mic distance.
    """
    import pyroomacoustics as pra

    dims = np.array([rng.uniform(3, 12), rng.uniform(3, 10), rng.uniform(2.4, 4.5)])
    draw = float(rng.uniform(0.15, 1.0))
    rt60 = draw if rt60 is None else float(rt60)
    try:
        absorption, max_order = pra.inverse_sabine(rt60, dims)
    except ValueError:  # RT60 too short for this room: use a more absorbent one
        absorption, max_order = 0.9, 3
    max_order = int(min(max_order, 30))
    room = pra.ShoeBox(dims, fs=fs, materials=pra.Material(absorption), max_order=max_order)
    mic = np.array([rng.uniform(0.5, d - 0.5) for d in dims[:2]] + [rng.uniform(1.0, 1.8)])
    src = np.array([rng.uniform(0.5, d - 0.5) for d in dims[:2]] + [rng.uniform(1.2, 1.9)])
    room.add_source(src)
    room.add_microphone(mic)
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], dtype=np.float32)
    return rir, {"room": [round(float(d), 2) for d in dims], "rt60": round(rt60, 3),
                 "distance": round(float(np.linalg.norm(src - mic)), 2)}


# --- the extra distortions -------------------------------------------------------------------

def bandwidth_limit(x: np.ndarray, fs: int, low_fs: int, method: str = "soxr") -> np.ndarray:
    """Down to ``low_fs`` and back up to ``fs`` (removes content above ``low_fs / 2``)."""
    if low_fs >= fs:
        return x.copy()
    if method == "soxr":
        return resample_to_length(resample(x, fs, low_fs), low_fs, fs, len(x))
    if method == "polyphase":
        from math import gcd

        g = gcd(fs, low_fs)
        y = ss.resample_poly(x, low_fs // g, fs // g)
        return np.pad(ss.resample_poly(y, fs // g, low_fs // g), (0, len(x)))[: len(x)].astype(np.float32)
    if method == "fft":
        y = ss.resample(x, int(round(len(x) * low_fs / fs)))
        return ss.resample(y, len(x)).astype(np.float32)
    raise ValueError(f"unknown resampling method {method!r}")


def clip(x: np.ndarray, min_quantile: float, max_quantile: float) -> np.ndarray:
    """Hard clipping at the ``min_quantile`` and ``max_quantile`` sample values."""
    lo, hi = np.quantile(x, [min_quantile, max_quantile])
    return np.clip(x, lo, hi).astype(np.float32)


def align(reference: np.ndarray, delayed: np.ndarray, max_lag: int) -> np.ndarray:
    """Shift ``delayed`` so it lines up with ``reference`` (cross-correlation peak within ``max_lag``)."""
    n = len(reference)
    corr = ss.correlate(delayed[: n + max_lag], reference, mode="full", method="fft")
    mid = n - 1
    window = corr[mid: mid + max_lag + 1]
    lag = int(np.argmax(window))
    out = delayed[lag: lag + n]
    return np.pad(out, (0, n - len(out))).astype(np.float32)


def codec(x: np.ndarray, fs: int, kind: str, quality: float) -> np.ndarray:
    """Lossy round trip through libsndfile's encoders, re-aligned to remove the codec delay.

    Args:
        kind: ``"mp3"``, ``"vorbis"`` or ``"opus"`` (opus runs at 48 kHz and is resampled back).
        quality: compression level in [0, 1] (0 best quality, 1 strongest compression;
            libsndfile refuses exactly 1.0, so it is capped at 0.99).
    """
    quality = float(np.clip(quality, 0.0, 0.99))
    enc_fs = 48000 if kind == "opus" else fs
    y = resample(x, fs, enc_fs)
    peak = float(np.max(np.abs(y))) + EPS
    fmt, subtype = {"mp3": ("MP3", "MPEG_LAYER_III"), "vorbis": ("OGG", "VORBIS"), "opus": ("OGG", "OPUS")}[kind]
    buf = io.BytesIO()
    sf.write(buf, y / peak * 0.9, enc_fs, format=fmt, subtype=subtype, compression_level=quality)
    buf.seek(0)
    dec, _ = sf.read(buf, dtype="float32")
    dec = resample(dec * peak / 0.9, enc_fs, fs)
    return align(x, np.pad(dec, (0, max(0, len(x) + 4096 - len(dec)))), max_lag=4096)


def packet_loss(x: np.ndarray, fs: int, rate: float, rng: np.random.Generator,
                packet_ms: float = 20.0, max_burst: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Zero 20 ms packets: bursts of 1..``max_burst`` packets until ``rate`` of them are lost.

    Returns ``(degraded, lost)`` with ``lost`` a boolean array over packets.
    """
    n_pkt = int(np.ceil(len(x) / (fs * packet_ms / 1000)))
    plen = int(fs * packet_ms / 1000)
    lost = np.zeros(n_pkt, dtype=bool)
    target = int(round(rate * n_pkt))
    while lost.sum() < target:
        start = int(rng.integers(0, n_pkt))
        burst = int(rng.integers(1, max_burst + 1))
        lost[start:start + burst] = True
    y = x.copy()
    for i in np.flatnonzero(lost):
        y[i * plen:(i + 1) * plen] = 0.0
    return y, lost


def wind_noise(n: int, fs: int, rng: np.random.Generator) -> np.ndarray:
    """Simple wind-like noise: low-passed brown noise with slow random gusts (amplitude modulation)."""
    base = colored_noise(n, 2.0, rng)
    sos = ss.butter(4, min(800.0, fs / 2 - 1), fs=fs, output="sos")
    base = ss.sosfilt(sos, base).astype(np.float32)
    t = np.arange(n) / fs
    gust = 1.0 + 0.8 * np.sin(2 * np.pi * rng.uniform(0.1, 0.8) * t + rng.uniform(0, 2 * np.pi))
    y = base * gust.astype(np.float32)
    return y / rms(y)
