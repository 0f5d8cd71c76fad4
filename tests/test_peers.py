"""Peers: delay compensation measured on speech, lengths and rates kept, clear install errors."""

import numpy as np
import pytest

from conftest import espeak
from gapse_core import peers


def lag_of(y: np.ndarray, x: np.ndarray) -> int:
    """Samples by which ``y`` trails ``x`` (peak of the cross-correlation)."""
    n = 2 * len(x)
    c = np.fft.irfft(np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n)), n)
    k = int(np.argmax(c))
    return k if k < len(x) else k - n


@pytest.fixture(scope="module")
def speech48k():
    return espeak("Peers must line up with the input, sample for sample.", fs=48000)


@pytest.mark.parametrize("name", ["noisereduce", "rnnoise", "deepfilternet3"])
@pytest.mark.parametrize("fs", [16000, 48000])
def test_delay_is_compensated(name, fs, speech48k, rng):
    from gapse_core.audio.resample import resample

    x = resample(speech48k, 48000, fs)
    x = np.concatenate([np.zeros(fs // 4, np.float32), x])  # speech starts 250 ms in
    noisy = (x + 0.01 * rng.standard_normal(len(x))).astype(np.float32)
    y = peers.get_peer(name).enhance(noisy, fs)
    assert y.shape == x.shape and y.dtype == np.float32 and np.all(np.isfinite(y))
    # without compensation RNNoise would trail by 960 and DeepFilterNet3 by 1440 samples at 48 kHz
    assert abs(lag_of(y, x)) <= (2 if fs == 48000 else 1)
    # it enhances rather than passing through: the output tracks the clean speech
    assert np.corrcoef(y, x)[0, 1] > 0.8


@pytest.mark.parametrize("fs", [8000, 22050])
def test_any_rate_keeps_rate_and_length(fs, rng):
    x = (0.1 * rng.standard_normal(fs // 3)).astype(np.float32)  # 333 ms, shorter than a second
    for name in peers.PEERS:
        y = peers.PEERS[name].enhance(x, fs)
        assert y.shape == x.shape, name
    assert np.array_equal(peers.PEERS["noisy"].enhance(x, fs), x)


def test_deepfilternet_removes_noise_from_speech(speech48k, rng):
    from gapse_core import metrics

    fs = 48000
    noisy = (speech48k + 0.05 * rng.standard_normal(len(speech48k))).astype(np.float32)
    y = peers.deepfilternet3(noisy, fs)
    assert metrics.si_sdr(y, speech48k) > metrics.si_sdr(noisy, speech48k) + 5


def test_unknown_and_missing_peers_are_one_line_errors():
    with pytest.raises(ValueError, match="unknown peer 'nope'; known: noisy, noisereduce"):
        peers.get_peer("nope")
    with pytest.raises(peers.PeerUnavailable, match=r"pip install 'gapse\[peers\]'"):
        peers._need("no_such_module_for_gapse", "no-such-package")
