import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import write_bad_inputs
from gapse_core.audio import SFISTFT, AudioError, load, process_in_chunks, resample, save

RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000]


@pytest.mark.parametrize("fs", RATES)
def test_load_any_rate_roundtrip(tmp_path, fs, rng):
    x = np.clip(0.1 * rng.standard_normal(fs // 2), -0.99, 0.99).astype(np.float32)
    save(tmp_path / "a.wav", x, fs)
    y, r = load(tmp_path / "a.wav")
    assert r == fs and y.dtype == np.float32
    np.testing.assert_allclose(y, x, atol=1e-6)


@pytest.mark.parametrize("ext", ["flac", "ogg", "mp3", "opus"])
def test_load_compressed_formats(tmp_path, ext, speech16k):
    fs = 48000 if ext == "opus" else 16000
    x = resample(speech16k, 16000, fs)
    save(tmp_path / f"a.{ext}", x, fs)
    y, r = load(tmp_path / f"a.{ext}")
    assert r == fs and abs(len(y) - len(x)) < 0.1 * fs
    assert np.max(np.abs(y)) > 0.1  # decoded real content, not silence


@pytest.mark.parametrize("channels", [2, 6])
def test_multichannel_is_downmixed(tmp_path, channels, rng):
    x = rng.standard_normal((8000, channels)).astype(np.float32) * 0.1
    sf.write(tmp_path / "m.wav", x, 16000, subtype="FLOAT")
    y, _ = load(tmp_path / "m.wav")
    np.testing.assert_allclose(y, x.mean(axis=1), atol=1e-6)


def test_bad_inputs_give_one_line_errors(tmp_path):
    for name, reason in {**write_bad_inputs(tmp_path), "missing.wav": "no such file"}.items():
        with pytest.raises(AudioError) as err:
            load(tmp_path / name)
        msg = str(err.value)
        assert "\n" not in msg and name in msg and reason in msg, msg


def test_save_is_atomic_and_clips(tmp_path):
    p = save(tmp_path / "o.wav", np.array([2.0, -3.0, 0.5], np.float32), 16000)
    y, _ = sf.read(p, dtype="float32")
    np.testing.assert_allclose(y, [1.0, -1.0, 0.5])
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("fs", RATES)
def test_sfi_stft_bins_grow_with_rate_and_invert(fs, rng):
    st = SFISTFT(32.0, 16.0)
    x = torch.from_numpy(rng.standard_normal((2, fs // 2)).astype(np.float32))
    spec = st.stft(x, fs)
    assert spec.shape[1] == st.n_fft(fs) // 2 + 1
    # each bin is ~31.25 Hz wide whatever the rate
    assert abs(fs / st.n_fft(fs) - 31.25) < 0.2
    y = st.istft(spec, fs, x.shape[-1])
    assert torch.allclose(x, y, atol=1e-4)


@pytest.mark.parametrize("n", [1, 10, 160, 256])
def test_sfi_stft_takes_tiny_signals(n):
    st = SFISTFT(32.0, 16.0)
    x = torch.ones(1, n)
    spec = st.stft(x, 16000)
    assert spec.shape[1] == 257
    assert st.istft(spec, 16000, n).shape == (1, n)


def test_chunking_is_exact_for_pointwise_functions(rng):
    x = rng.standard_normal(10_000).astype(np.float32)
    y = process_in_chunks(lambda c: 2 * c, x, chunk=1000, overlap=100)
    np.testing.assert_allclose(y, 2 * x, rtol=1e-5, atol=1e-5)
    y = process_in_chunks(lambda c: 2 * c, x[:999], chunk=1000, overlap=100)
    np.testing.assert_allclose(y, 2 * x[:999], rtol=1e-6)


def test_chunking_crossfades_between_chunks(rng):
    # a function that adds a per-chunk constant: output must move smoothly between constants
    calls = []

    def fn(c):
        calls.append(len(c))
        return np.full_like(c, float(len(calls)))

    y = process_in_chunks(fn, np.zeros(2500, np.float32), chunk=1000, overlap=200)
    assert all(n == 1000 for n in calls) and len(calls) == 3
    assert y[0] == 1 and y[-1] == 3
    assert np.all(np.diff(y) >= -1e-6) and np.max(np.diff(y)) < 0.02  # monotone, no jumps
