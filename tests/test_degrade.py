"""Each URGENT distortion, checked on signals whose right answer is known."""

import numpy as np
import pytest
import scipy.signal as ss

from gapse_core.data import degrade as D
from gapse_core.metrics import si_sdr


def band_energy(x, fs, lo, hi):
    f, p = ss.welch(x, fs, nperseg=1024)
    return float(p[(f >= lo) & (f < hi)].sum())


@pytest.mark.parametrize("snr", [-5.0, 0.0, 12.5])
def test_add_noise_hits_the_snr(speech16k, rng, snr):
    noise = rng.standard_normal(len(speech16k)).astype(np.float32)
    noisy, scaled = D.add_noise(speech16k, noise, snr, 16000)
    got = 20 * np.log10(D.active_rms(speech16k, 16000) / D.rms(scaled))
    assert abs(got - snr) < 0.01
    np.testing.assert_allclose(noisy - scaled, speech16k, atol=1e-6)


def test_fit_length_crops_and_loops(rng):
    x = np.arange(100, dtype=np.float32)
    assert len(D.fit_length(x, 40, rng)) == 40
    y = D.fit_length(x, 250, rng)
    assert len(y) == 250 and set(np.unique(y)) <= set(x)


def test_babble_is_a_mix_of_utterances(rng):
    utts = [np.sin(2 * np.pi * f * np.arange(16000) / 16000).astype(np.float32) for f in (200, 300, 450)]
    b = D.make_babble(utts, 16000, rng)
    spec = np.abs(np.fft.rfft(b))
    peaks = sorted(np.argsort(spec)[-3:])
    assert peaks == [200, 300, 450]  # 1 Hz bins: every talker is in the mix


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0])
def test_colored_noise_slope(rng, exponent):
    x = D.colored_noise(2**16, exponent, rng)
    f, p = ss.welch(x, 1.0, nperseg=4096)
    sel = (f > 0.005) & (f < 0.4)
    slope = np.polyfit(np.log10(f[sel]), np.log10(p[sel]), 1)[0]
    assert abs(slope + exponent) < 0.15


def test_reverberate_keeps_direct_path_and_early_target(speech16k, rng):
    fs = 16000
    rir = np.zeros(8000, np.float32)
    rir[100] = 1.0  # direct path at 100 samples
    rir[100 + 320] = 0.5  # 20 ms reflection: part of the early target
    rir[100 + 3200] = 0.5  # 200 ms reflection: late, removed from the target
    full, early = D.reverberate(speech16k, rir, fs)
    expected_early = speech16k.copy()
    expected_early[320:] += 0.5 * speech16k[:-320]
    np.testing.assert_allclose(early, expected_early, atol=1e-4)
    expected_full = expected_early.copy()
    expected_full[3200:] += 0.5 * speech16k[:-3200]
    np.testing.assert_allclose(full, expected_full, atol=1e-4)
    _, drier = D.reverberate(speech16k, rir, fs, early_ms=10.0)  # MixtureConfig.target_early_ms
    np.testing.assert_allclose(drier, speech16k, atol=1e-4)  # the 20 ms reflection is now "late"


def test_simulated_rir_decays_with_its_rt60(rng):
    rir, params = D.simulate_rir(rng, 16000)
    assert 0.15 <= params["rt60"] <= 1.0 and params["distance"] > 0
    energy = np.cumsum(rir[::-1] ** 2)[::-1]  # Schroeder integral
    edc = 10 * np.log10(energy / energy[0] + 1e-12)
    t20 = np.argmax(edc < -25) - np.argmax(edc < -5)
    rt60_est = 3 * t20 / 16000
    assert 0.3 * params["rt60"] < rt60_est < 2.5 * params["rt60"]


@pytest.mark.parametrize("method", ["soxr", "polyphase", "fft"])
def test_bandwidth_limit_removes_the_high_band(rng, method):
    fs = 16000
    x = rng.standard_normal(fs).astype(np.float32)
    y = D.bandwidth_limit(x, fs, 8000, method)
    assert len(y) == len(x)
    assert band_energy(y, fs, 4400, 8000) < 0.02 * band_energy(x, fs, 4400, 8000)
    assert band_energy(y, fs, 200, 3500) > 0.8 * band_energy(x, fs, 200, 3500)


def test_clip_bounds_by_quantiles(rng):
    x = rng.standard_normal(10000).astype(np.float32)
    y = D.clip(x, 0.05, 0.95)
    lo, hi = np.quantile(x, [0.05, 0.95])
    assert y.min() >= lo - 1e-6 and y.max() <= hi + 1e-6
    assert np.mean(y != x) == pytest.approx(0.1, abs=0.01)


@pytest.mark.parametrize("kind", ["mp3", "vorbis", "opus"])
def test_codec_roundtrip_is_aligned(speech16k, kind):
    y = D.codec(speech16k, 16000, kind, quality=0.3)
    assert len(y) == len(speech16k)
    assert si_sdr(y, speech16k) > 3.0  # aligned: a misaligned decode scores far below 0 dB
    lags = ss.correlation_lags(len(y), len(speech16k))
    lag = lags[np.argmax(ss.correlate(y, speech16k, method="fft"))]
    assert abs(lag) <= 2


def test_codec_degrades_more_at_high_compression(speech16k):
    good = si_sdr(D.codec(speech16k, 16000, "mp3", 0.0), speech16k)
    bad = si_sdr(D.codec(speech16k, 16000, "mp3", 1.0), speech16k)
    assert good > bad


@pytest.mark.parametrize("rate", [0.05, 0.15, 0.25])
def test_packet_loss_zeroes_that_share_of_packets(speech16k, rng, rate):
    y, lost = D.packet_loss(speech16k, 16000, rate, rng)
    plen = 320
    assert lost.mean() == pytest.approx(rate, abs=0.1)
    for i, gone in enumerate(lost):
        seg = y[i * plen:(i + 1) * plen]
        if gone:
            assert np.all(seg == 0)
        else:
            np.testing.assert_array_equal(seg, speech16k[i * plen:(i + 1) * plen])


def test_wind_noise_is_low_frequency(rng):
    w = D.wind_noise(32000, 16000, rng)
    assert band_energy(w, 16000, 0, 800) > 50 * band_energy(w, 16000, 2000, 8000)
