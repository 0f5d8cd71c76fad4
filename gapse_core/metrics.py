"""Speech-quality metrics: PESQ-WB, ESTOI, SI-SDR, LSD and DNSMOS (OVRL/SIG/BAK).

Intrusive metrics compare an estimate with its clean reference (same rate, same length);
DNSMOS is non-intrusive. PESQ-WB and DNSMOS run at 16 kHz (inputs are resampled with soxr),
ESTOI at its native 10 kHz inside pystoi. Each function takes float arrays ``[n]``.
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


def lsd(est: np.ndarray, ref: np.ndarray, fs: int, n_fft_ms: float = 32.0) -> float:
    """Log-spectral distance in dB: RMS over bins of the log-power difference, mean over frames."""
    import scipy.signal as ss

    n_fft = int(fs * n_fft_ms / 1000)
    _, _, e = ss.stft(est, fs, nperseg=n_fft, noverlap=n_fft // 2)
    _, _, r = ss.stft(ref, fs, nperseg=n_fft, noverlap=n_fft // 2)
    le = np.log10(np.abs(e) ** 2 + EPS)
    lr = np.log10(np.abs(r) ** 2 + EPS)
    return float(np.mean(np.sqrt(np.mean((10 * (le - lr)) ** 2, axis=0))))


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


INTRUSIVE = ("pesq", "estoi", "si_sdr", "lsd")
NON_INTRUSIVE = ("dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak")


def score(est: np.ndarray, fs: int, ref: np.ndarray | None = None, *, use_dnsmos: bool = True) -> dict[str, float]:
    """All metrics for one estimate: intrusive ones when ``ref`` is given, DNSMOS when asked."""
    out: dict[str, float] = {}
    if ref is not None:
        n = min(len(est), len(ref))
        est_, ref_ = est[:n], ref[:n]
        out["pesq"] = pesq_wb(est_, ref_, fs)
        out["estoi"] = estoi(est_, ref_, fs)
        out["si_sdr"] = si_sdr(est_, ref_)
        out["lsd"] = lsd(est_, ref_, fs)
    if use_dnsmos:
        d = dnsmos(est, fs)
        out.update({"dnsmos_ovrl": d["ovrl"], "dnsmos_sig": d["sig"], "dnsmos_bak": d["bak"]})
    return out
