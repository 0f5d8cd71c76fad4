"""Metrics against known values and against direct calls of the reference packages."""

import numpy as np
import pytest

from gapse_core import metrics


def test_identical_signals(speech16k):
    x = speech16k
    assert metrics.si_sdr(x, x) > 60
    assert metrics.lsd(x, x, 16000) == pytest.approx(0.0, abs=1e-6)
    assert metrics.pesq_wb(x, x, 16000) > 4.5
    assert metrics.estoi(x, x, 16000) > 0.99


@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0])
def test_si_sdr_of_a_known_snr(speech16k, rng, snr):
    x = speech16k.astype(np.float64)
    n = rng.standard_normal(len(x))
    n -= n.mean()
    x0 = x - x.mean()
    n -= np.dot(n, x0) / np.dot(x0, x0) * x0  # orthogonal to the reference
    n *= np.linalg.norm(x0) / np.linalg.norm(n) / 10 ** (snr / 20)
    assert metrics.si_sdr(x + n, x) == pytest.approx(snr, abs=0.05)
    # scale invariance
    assert metrics.si_sdr(3 * (x + n), x) == pytest.approx(snr, abs=0.05)


def test_pure_noise_scores_low(speech16k, rng):
    noise = (0.1 * rng.standard_normal(len(speech16k))).astype(np.float32)
    assert metrics.si_sdr(noise, speech16k) < -20
    assert metrics.estoi(noise, speech16k, 16000) < 0.2
    assert metrics.pesq_wb(noise, speech16k, 16000) < 1.3
    d_noise, d_clean = metrics.dnsmos(noise, 16000), metrics.dnsmos(speech16k, 16000)
    assert d_noise["bak"] < d_clean["bak"] - 1.0


def test_wrappers_agree_with_the_reference_packages(speech16k, rng):
    from pesq import pesq
    from pystoi import stoi
    from speechmos import dnsmos

    noisy = (speech16k + 0.05 * rng.standard_normal(len(speech16k))).astype(np.float32)
    assert metrics.pesq_wb(noisy, speech16k, 16000) == pytest.approx(pesq(16000, speech16k, noisy, "wb"), abs=1e-6)
    assert metrics.estoi(noisy, speech16k, 16000) == pytest.approx(stoi(speech16k, noisy, 16000, extended=True), abs=1e-6)
    ref = dnsmos.run(noisy.astype(np.float64), 16000)
    got = metrics.dnsmos(noisy, 16000)
    assert got["ovrl"] == pytest.approx(ref["ovrl_mos"], abs=1e-6)
    assert got["sig"] == pytest.approx(ref["sig_mos"], abs=1e-6)
    assert got["bak"] == pytest.approx(ref["bak_mos"], abs=1e-6)


def test_one_window_dnsmos_is_dnsmos_on_a_window_and_ranks_like_it(speech16k, rng):
    """``dnsmos_windows`` (the SQA critic's teacher) equals DNSMOS on a clip of exactly one
    9.01 s window, and on short clips still tells clean speech from noise."""
    noisy = (speech16k + 0.05 * rng.standard_normal(len(speech16k))).astype(np.float32)
    window = np.resize(noisy, 144160)  # one DNSMOS window: DNSMOS scores it with a single hop
    got = metrics.dnsmos_windows(window[None])[0]
    ref = metrics.dnsmos(window, 16000)
    assert got == pytest.approx([ref["ovrl"], ref["sig"], ref["bak"]], abs=1e-5)
    noise = (0.1 * rng.standard_normal(len(speech16k))).astype(np.float32)
    short = metrics.dnsmos_windows(np.stack([speech16k, noise]))  # [2, 3]
    assert short.shape == (2, 3) and short[0, 2] > short[1, 2] + 1.0  # BAK: speech over noise
    with pytest.raises(ValueError, match="silent"):
        metrics.dnsmos_windows(np.zeros((1, 16000), np.float32))


def test_lsd_grows_with_missing_band(speech16k):
    from gapse_core.data.degrade import bandwidth_limit

    assert metrics.lsd(bandwidth_limit(speech16k, 16000, 8000), speech16k, 16000) > 3.0


def test_lsd_over_a_band_scores_only_that_band(speech16k, rng):
    from gapse_core.data.degrade import bandwidth_limit

    limited = bandwidth_limit(speech16k, 16000, 8000)  # nothing above 4 kHz
    low, high = metrics.lsd(limited, speech16k, 16000, band=(0, 3500)), metrics.lsd(limited, speech16k, 16000,
                                                                                      band=(4500, 8000))
    full = metrics.lsd(limited, speech16k, 16000)
    assert low < 0.01 and high > 20.0 and low < full < high  # the whole error sits in the removed band
    assert np.isnan(metrics.lsd(speech16k, speech16k, 16000, band=(9000, 12000)))  # above this rate's Nyquist
    assert metrics.parse_band("4000-8000") == (4000.0, 8000.0)
    assert metrics.lsd_band_key((4000.0, 8000.0)) == "lsd_4000-8000"
    for bad in ("4k-8k", "8000-4000", "4000"):
        with pytest.raises(ValueError, match="LSD band"):
            metrics.parse_band(bad)


def test_lsd_known_answers_and_its_floor_far_below_speech(rng):
    """A gain is a level difference in every bin; a shelf above 4 kHz counts there only; the phase
    does not count; and a -60 dB copy of a band is scored, not clamped by the floor."""
    x = rng.standard_normal(4 * 16000)
    assert metrics.lsd(3 * x, x, 16000) == pytest.approx(20 * np.log10(3), abs=1e-3)  # 9.54 dB
    freqs = np.fft.rfftfreq(len(x), 1 / 16000)
    spec = np.fft.rfft(x)
    shelf = np.fft.irfft(np.where(freqs >= 4000, 2 * spec, spec), len(x))
    assert metrics.lsd(shelf, x, 16000, band=(0, 3700)) == pytest.approx(0.0, abs=0.05)
    assert metrics.lsd(shelf, x, 16000, band=(4300, 8000)) == pytest.approx(20 * np.log10(2), abs=0.05)
    quiet = np.fft.irfft(np.where(freqs >= 4000, 1e-3 * spec, spec), len(x))
    assert metrics.lsd(quiet, x, 16000, band=(4300, 8000)) == pytest.approx(60.0, abs=0.5)
    late = np.roll(x, 1)  # one sample late: every phase moves, the short-time spectrum hardly does
    assert metrics.si_sdr(late, x) < -40 and metrics.lsd(late, x, 16000) < 0.2
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 10 ms clip, shorter than the 32 ms window: quietly zero-padded
        assert metrics.lsd(0.5 * x[:160], x[:160], 16000) == pytest.approx(20 * np.log10(2), abs=1e-3)


def test_word_error_rate_known_values():
    wer = metrics.word_error_rate
    assert wer("the cat sat", "the cat sat") == 0.0
    assert wer("The cat, sat!", "the cat sat") == 0.0  # case and punctuation ignored
    assert wer("the cat sat", "the cat sat down") == pytest.approx(1 / 4)  # one deletion
    assert wer("the bat sat on it", "the cat sat") == pytest.approx(3 / 3)  # 1 substitution + 2 insertions
    assert wer("", "two words") == 1.0
    assert np.isnan(wer("", ""))


def test_speaker_similarity_separates_voices():
    from conftest import espeak

    a1 = espeak("Speaker similarity compares the voice and not the words.", voice="en")
    a2 = espeak("A different sentence spoken by the very same voice.", voice="en")
    b = espeak("Speaker similarity compares the voice and not the words.", voice="en+f4")
    same, other = metrics.speaker_similarity(a2, a1, 16000), metrics.speaker_similarity(b, a1, 16000)
    assert metrics.speaker_similarity(a1, a1, 16000) == pytest.approx(1.0, abs=1e-4)
    assert same > other + 0.05, (same, other)
    assert np.isnan(metrics.speaker_similarity(np.zeros(16000, np.float32), a1, 16000))


def test_transcriber_needs_a_model_folder(tmp_path):
    with pytest.raises(RuntimeError, match="not a faster-whisper"):
        metrics.Transcriber(str(tmp_path))


def test_frame_rate_buzz_is_zero_for_noise_and_high_for_repeated_frames(rng):
    fs = 16000
    noise = rng.standard_normal(3 * fs)
    assert abs(metrics.frame_rate_buzz(noise, fs)) < 1.0
    repeated = np.tile(rng.standard_normal(320), 3 * fs // 320)  # one 20 ms frame over and over: lines every 50 Hz
    assert metrics.frame_rate_buzz(noise + repeated, fs) > 5.0  # at equal power
    assert metrics.frame_rate_buzz(0.1 * noise + repeated, fs) > 20.0
    # a loop of 25 ms (40 Hz lines) is no 50 Hz buzz
    assert abs(metrics.frame_rate_buzz(noise + np.tile(rng.standard_normal(400), 3 * fs // 400), fs)) < 1.5
    with pytest.raises(ValueError, match="0.2 s"):
        metrics.frame_rate_buzz(noise[:1000], fs)
