"""Speech-quality metrics: PESQ-WB, ESTOI, SI-SDR, LSD, DNSMOS (OVRL/SIG/BAK), speaker
similarity and word error rate.

Intrusive metrics compare an estimate with its clean reference (same rate, same length);
DNSMOS is non-intrusive. PESQ-WB and DNSMOS run at 16 kHz (inputs are resampled with soxr),
ESTOI at its native 10 kHz inside pystoi. Each function takes float arrays ``[n]``.

Speaker similarity is the cosine between Resemblyzer d-vectors (its GE2E encoder ships its
weights inside the PyPI package) of the estimate and the reference. Word error rate needs an
ASR model the user has on disk (a faster-whisper / CTranslate2 model folder); nothing is
downloaded.
"""

from __future__ import annotations

import warnings

import numpy as np

from .audio.resample import resample

EPS = 1e-8


def si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    """Scale-invariant SDR in dB (zero-mean signals)."""
    est = np.asarray(est, np.float64) - np.mean(est)
    ref = np.asarray(ref, np.float64) - np.mean(ref)
    alpha = np.dot(est, ref) / (np.dot(ref, ref) + EPS)
    target = alpha * ref
    return float(10 * np.log10((np.sum(target**2) + EPS) / (np.sum((est - target) ** 2) + EPS)))


LSD_FLOOR = 1e-8  # power floor of both log-spectra, on the unnormalised STFT's scale


def log_power_difference(est: np.ndarray, ref: np.ndarray, fs: int,
                         n_fft_ms: float = 32.0) -> tuple[np.ndarray, np.ndarray]:
    """``(diff [F, T], freqs [F])``: 10 log10 of the estimate's over the reference's STFT power,
    each with ``LSD_FLOOR`` added, on the STFT that :func:`lsd` documents."""
    import librosa

    est, ref = np.asarray(est, np.float64), np.asarray(ref, np.float64)
    n_fft, hop = int(fs * n_fft_ms / 1000), int(fs * n_fft_ms / 2000)
    with warnings.catch_warnings():  # a clip shorter than the window (10 ms) is zero-padded: well defined
        warnings.filterwarnings("ignore", message="n_fft=.* is too large", category=UserWarning)
        e = np.abs(librosa.stft(est, n_fft=n_fft, hop_length=hop)) ** 2
        r = np.abs(librosa.stft(ref, n_fft=n_fft, hop_length=hop)) ** 2
    diff = 10 * (np.log10(e + LSD_FLOOR) - np.log10(r + LSD_FLOOR))
    return diff, librosa.fft_frequencies(sr=fs, n_fft=n_fft)


def lsd_of(diff: np.ndarray, freqs: np.ndarray, band: tuple[float, float] | None = None) -> float:
    """LSD from :func:`log_power_difference`'s output, over ``band`` (Hz, both ends included) or
    every bin; NaN when no bin lies in the band."""
    if band is not None:
        diff = diff[(freqs >= band[0]) & (freqs <= band[1])]
        if not len(diff):
            return float("nan")
    return float(np.mean(np.sqrt(np.mean(diff**2, axis=0))))


def lsd(est: np.ndarray, ref: np.ndarray, fs: int, n_fft_ms: float = 32.0,
        band: tuple[float, float] | None = None) -> float:
    """Log-spectral distance in dB: RMS over bins of the log-power difference, mean over frames.

    The STFT is the URGENT 2025 challenge's (``lsd_metric``): librosa's centred, *unnormalised*
    Hann STFT, 32 ms window, 16 ms hop. On that scale the power floor ``LSD_FLOOR`` lies 45-60 dB
    below the median bin of held-out speech under 4 kHz and 25-55 dB below it over 4 kHz, so
    quiet bands are scored, not clamped. Two departures from URGENT's formula: the floor is
    added to both spectra and the result is in dB, so identical signals score 0 even over
    digital silence; and there is no least-squares gain alignment first, which would scale a
    generative output whose phase is free (SI-SDR near -40 dB) down by tens of dB and so make
    LSD depend on the phase. (gapse before 2026-11-24 used scipy's window-normalised STFT with
    the same floor, which sat at the level of a typical speech bin: those LSD figures are not
    comparable.)

    ``band``: ``(low_hz, high_hz)`` restricts the RMS to the bins from ``low_hz`` to ``high_hz``
    (both included), e.g. ``(4000, 8000)`` for the band a 4 kHz bandwidth limit removed; NaN
    when no bin of the file's STFT lies there (a band above its Nyquist frequency).
    """
    return lsd_of(*log_power_difference(est, ref, fs, n_fft_ms), band)


def lsd_band_key(band: tuple[float, float]) -> str:
    """The metric name of LSD over ``band`` in reports: ``(4000, 8000)`` -> ``lsd_4000-8000``."""
    return f"lsd_{band[0]:g}-{band[1]:g}"


def parse_band(text: str) -> tuple[float, float]:
    """``"4000-8000"`` -> ``(4000.0, 8000.0)``; ValueError with a one-line reason otherwise."""
    parts = text.split("-")
    try:
        low, high = (float(x) for x in parts)
    except ValueError:
        raise ValueError(f"LSD band {text!r}: give it as LOW-HIGH in Hz, e.g. 4000-8000") from None
    if not 0 <= low < high:
        raise ValueError(f"LSD band {text!r}: needs 0 <= LOW < HIGH")
    return low, high


def frame_rate_buzz(wave: np.ndarray, fs: int, frame_hz: float = 50.0,
                    band: tuple[float, float] = (1000.0, 8000.0)) -> float:
    """How far the harmonics of a generator's frame rate stand out of the spectrum, in dB.

    A frame-wise generator (the vocoder's and the codec's iSTFT heads, 50 frames per second)
    whose frames repeat part of their content adds a signal periodic in the hop: lines at every
    multiple of ``frame_hz``, heard as a buzz and seen as horizontal stripes in a spectrogram.
    This is the mean over ``band`` (up to Nyquist) of the Welch power spectrum (5 Hz bins, so a
    line's Hann lobe stays within +-10 Hz) at ``k * frame_hz`` minus that at ``(k + 1/2) *
    frame_hz``, in dB. Speech and noise give about 0 (voiced speech's own harmonics fall on
    both equally often); the shipped vocoder's copy-synthesis of held-out speech gives 13.8
    (``checkpoints/vocoder-small.md``). ``wave [n]``, at least 0.2 s.
    """
    from scipy.signal import welch

    seg = int(fs / 5)
    if len(wave) < seg:
        raise ValueError(f"frame_rate_buzz needs at least {seg} samples (0.2 s), got {len(wave)}")
    f, psd = welch(np.asarray(wave, np.float64), fs, nperseg=seg, noverlap=seg // 2)
    level = 10 * np.log10(psd + 1e-20)
    lo, hi = band[0], min(band[1], fs / 2 - frame_hz)
    ks = np.arange(np.ceil(lo / frame_hz), np.floor(hi / frame_hz))
    if not len(ks):
        raise ValueError(f"frame_rate_buzz: no multiple of {frame_hz:g} Hz in {lo:g}-{hi:g} Hz")
    at = lambda hz: np.interp(hz, f, level)  # noqa: E731 (bins every 5 Hz: exact for these frequencies)
    return float(np.mean(at(ks * frame_hz) - at((ks + 0.5) * frame_hz)))


def pesq_wb(est: np.ndarray, ref: np.ndarray, fs: int) -> float:
    """Wide-band PESQ (ITU-T P.862.2) at 16 kHz; NaN when PESQ finds no utterance."""
    from pesq import PesqError, pesq

    e, r = resample(est, fs, 16000), resample(ref, fs, 16000)
    n = min(len(e), len(r))
    try:
        return float(pesq(16000, r[:n], e[:n], "wb"))
    except PesqError:
        return float("nan")


def estoi(est: np.ndarray, ref: np.ndarray, fs: int) -> float:
    """Extended STOI."""
    from pystoi import stoi

    n = min(len(est), len(ref))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stoi(ref[:n], est[:n], fs, extended=True))


def dnsmos(wave: np.ndarray, fs: int) -> dict[str, float]:
    """DNSMOS P.835 (sig_bak_ovr ONNX shipped in ``speechmos``): ``{"ovrl", "sig", "bak"}``."""
    from speechmos import dnsmos as _dnsmos

    x = resample(wave, fs, 16000).astype(np.float64)
    peak = np.max(np.abs(x))
    if peak > 1.0:
        x = x / peak
    out = _dnsmos.run(x, 16000)
    return {"ovrl": float(out["ovrl_mos"]), "sig": float(out["sig_mos"]), "bak": float(out["bak_mos"])}


_DNSMOS_WINDOW = 144160  # DNSMOS P.835's input: 9.01 s at 16 kHz
_DNSMOS_SESSION = None


def dnsmos_windows(waves: np.ndarray) -> np.ndarray:
    """DNSMOS P.835 of a batch of 16 kHz clips ``[B, n]`` -> ``[B, 3]`` (OVRL, SIG, BAK), one window each.

    The same ONNX model and polynomial mapping as :func:`dnsmos`, but each clip is scored on
    a single 9.01 s window (the clip repeated to fill it, as DNSMOS does) instead of every
    hop of its doubled copies, and without the P.808 model DNSMOS also runs: about 0.35 s of
    CPU per clip instead of 3.6 s for a 2 s clip. A teacher for training (the online SQA
    critic of ``train/predictor.py``); reported metrics use :func:`dnsmos`.
    """
    global _DNSMOS_SESSION
    from speechmos import dnsmos as _dnsmos

    if _DNSMOS_SESSION is None:
        import os

        import onnxruntime as ort

        path = os.path.join(os.path.dirname(_dnsmos.__file__), "dnsmos_models", "sig_bak_ovr.onnx")
        _DNSMOS_SESSION = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = np.empty((len(waves), 3))
    for i, x in enumerate(np.asarray(waves, np.float32)):
        if not np.isfinite(x).all() or not np.any(x):
            raise ValueError("dnsmos_windows: a clip is silent or not finite")
        x = np.resize(x / max(1.0, float(np.max(np.abs(x)))), _DNSMOS_WINDOW)  # repeats the clip
        sig, bak, ovr = _DNSMOS_SESSION.run(None, {"input_1": x[None]})[0][0]
        sig, bak, ovr = _dnsmos.DNSMOS.get_polyfit_val(None, sig, bak, ovr, False)
        out[i] = ovr, sig, bak
    return out


_QUALITY: dict[str, object] = {}


def learned_quality(wave: np.ndarray, fs: int, model: str = "quality-small") -> dict[str, float]:
    """gapse's learned DNSMOS imitation (``models/quality.py``): ``{"ovrl", "sig", "bak"}``.

    Differentiable and about 50x faster than DNSMOS on a CPU; how closely it follows DNSMOS on
    held-out clips is in its model card (and ``gapse eval --learned-quality`` measures it).
    """
    import torch

    from .checkpoints import load_model, resolve

    key = str(resolve(model))  # a name may point elsewhere when $GAPSE_CHECKPOINTS changes
    if key not in _QUALITY:
        _QUALITY[key] = load_model(key)[0].eval()
    x = torch.from_numpy(np.ascontiguousarray(resample(wave, fs, 16000), dtype=np.float32))[None]
    if x.shape[-1] < 512:  # one analysis window at least
        x = torch.nn.functional.pad(x, (0, 512 - x.shape[-1]))
    with torch.inference_mode():
        ovrl, sig, bak = _QUALITY[key](x)[0].tolist()
    return {"ovrl": ovrl, "sig": sig, "bak": bak}


_VOICE_ENCODER = None


def speaker_embedding(wave: np.ndarray, fs: int) -> np.ndarray | None:
    """Resemblyzer d-vector ``[256]`` (unit norm); ``None`` when the clip holds no voiced speech."""
    global _VOICE_ENCODER
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # webrtcvad imports the deprecated pkg_resources
        from resemblyzer import VoiceEncoder, preprocess_wav
    if _VOICE_ENCODER is None:
        _VOICE_ENCODER = VoiceEncoder(device="cpu", verbose=False)
    x = resample(wave, fs, 16000)
    if len(x) < 1600 or float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) < 1e-5:
        return None
    x = preprocess_wav(x, source_sr=16000)  # loudness-normalised, long silences cut (webrtcvad)
    if len(x) < 1600:
        return None
    return _VOICE_ENCODER.embed_utterance(x)


def speaker_similarity(est: np.ndarray, ref: np.ndarray, fs: int, ref_embedding: np.ndarray | None = None) -> float:
    """Cosine similarity of the estimate's and the reference's d-vectors (1 = same voice); NaN if unvoiced.

    ``ref_embedding``: the reference's d-vector when the caller already has it (one reference,
    many estimates).
    """
    e = speaker_embedding(est, fs)
    r = ref_embedding if ref_embedding is not None else speaker_embedding(ref, fs)
    if e is None or r is None:
        return float("nan")
    return float(np.dot(e, r) / (np.linalg.norm(e) * np.linalg.norm(r) + EPS))


def word_error_rate(hypothesis: str, reference: str) -> float:
    """(substitutions + deletions + insertions) / reference words, on lower-cased words without punctuation."""
    import re

    def words(s: str) -> list[str]:
        return re.sub(r"[^\w\s']", " ", s.lower()).split()

    hyp, ref = words(hypothesis), words(reference)
    if not ref:
        return float("nan") if not hyp else 1.0
    prev = list(range(len(hyp) + 1))  # Levenshtein over words, one row at a time
    for i, rw in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, hw in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rw != hw))
        prev = cur
    return prev[-1] / len(ref)


class Transcriber:
    """Speech recognition with a faster-whisper model folder the user already has (no download).

    ``Transcriber("/models/whisper-small-ct2")(wave, fs) -> "text"``. Raises a one-line
    ``RuntimeError`` when faster-whisper is missing or the folder holds no model.
    """

    def __init__(self, model_dir: str, device: str = "cpu") -> None:
        from pathlib import Path

        if not (Path(model_dir) / "model.bin").exists():
            raise RuntimeError(f"{model_dir}: not a faster-whisper (CTranslate2) model folder (no model.bin)")
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise RuntimeError("word error rate needs faster-whisper: pip install faster-whisper") from None
        self.model = WhisperModel(model_dir, device=device, compute_type="int8" if device == "cpu" else "float16",
                                  local_files_only=True)

    def __call__(self, wave: np.ndarray, fs: int) -> str:
        segments, _ = self.model.transcribe(resample(wave, fs, 16000), language="en", beam_size=1)
        return " ".join(s.text.strip() for s in segments)


INTRUSIVE = ("pesq", "estoi", "si_sdr", "lsd")
NON_INTRUSIVE = ("dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "sqa_ovrl")


def score(est: np.ndarray, fs: int, ref: np.ndarray | None = None, *, use_dnsmos: bool = True,
          use_speaker: bool = False, ref_embedding: np.ndarray | None = None,
          use_learned_quality: bool = False, lsd_bands: tuple[tuple[float, float], ...] = ()) -> dict[str, float]:
    """All metrics for one estimate: intrusive ones when ``ref`` is given, DNSMOS, speaker
    similarity and the learned quality predictor's OVRL (``sqa_ovrl``) when asked
    (``ref_embedding``: the reference's d-vector, if already computed). Each of ``lsd_bands``
    adds the LSD over that band as ``lsd_band_key(band)``."""
    out: dict[str, float] = {}
    if ref is not None:
        n = min(len(est), len(ref))
        est_, ref_ = est[:n], ref[:n]
        out["pesq"] = pesq_wb(est_, ref_, fs)
        out["estoi"] = estoi(est_, ref_, fs)
        out["si_sdr"] = si_sdr(est_, ref_)
        diff, freqs = log_power_difference(est_, ref_, fs)  # one STFT pair for every band
        out["lsd"] = lsd_of(diff, freqs)
        for band in lsd_bands:
            out[lsd_band_key(band)] = lsd_of(diff, freqs, band)
        if use_speaker:
            out["speaker_sim"] = speaker_similarity(est_, ref_, fs, ref_embedding)
    if use_dnsmos:
        d = dnsmos(est, fs)
        out.update({"dnsmos_ovrl": d["ovrl"], "dnsmos_sig": d["sig"], "dnsmos_bak": d["bak"]})
    if use_learned_quality:
        out["sqa_ovrl"] = learned_quality(est, fs)["ovrl"]
    return out
