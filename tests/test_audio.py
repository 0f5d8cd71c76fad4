import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import write_bad_inputs
from gapse_core.audio import SFISTFT, AudioError, load, process_in_chunks, resample, save
from gapse_core.audio.chunking import chunk_spans

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


def test_chunk_spans_are_balanced_aligned_and_cover_the_signal(rng):
    # 10 s at 48 kHz in 8 s chunks with 0.5 s overlap on the 20 ms grid: two chunks of 5.26 s, not 8 s + 8 s
    assert chunk_spans(480_000, 384_000, 24_000, 960) == [(0, 252_480), (227_520, 480_000)]
    assert chunk_spans(999, 1000, 100, 7) == [(0, 999)]
    # a grid as coarse as the step: one chunk rounded up past the signal covers it (no negative start)
    assert chunk_spans(224, 203, 195, 32) == [(0, 224)]
    for _ in range(300):
        chunk = int(rng.integers(50, 5000))
        overlap = int(rng.integers(1, chunk))
        align = int(rng.integers(1, max(2, (chunk - overlap) // 2)))
        n = int(rng.integers(chunk + 1, 40 * chunk))
        spans = chunk_spans(n, chunk, overlap, align)
        starts = [s for s, _ in spans]
        assert spans[0][0] == 0 and spans[-1][1] == n
        assert all(s % align == 0 for s in starts) and starts == sorted(set(starts))
        assert all(spans[i][1] - spans[i + 1][0] >= overlap for i in range(len(spans) - 1))
        assert all(e - s <= chunk + 2 * (align - 1) for s, e in spans)
        fewest = -(-(n - overlap) // (chunk - overlap))
        assert len(spans) <= fewest and (align > 1 or len(spans) == fewest)
        assert sum(e - s for s, e in spans) <= n + fewest * (overlap + 2 * align)


def test_chunking_crossfades_between_chunks(rng):
    # a function that adds a per-chunk constant: output must move smoothly between constants
    calls = []

    def fn(c):
        calls.append(len(c))
        return np.full_like(c, float(len(calls)))

    y = process_in_chunks(fn, np.zeros(2500, np.float32), chunk=1000, overlap=200)
    assert calls == [967, 967, 967]  # balanced: three equal chunks of at most 1000 samples
    assert y[0] == 1 and y[-1] == 3
    assert np.all(np.diff(y) >= -1e-6) and np.max(np.diff(y)) < 0.02  # monotone, no jumps


def test_decimate_keeps_the_band_below_the_new_nyquist_drops_the_rest_and_passes_gradients(speech16k):
    """``decimate`` (the PostNet's SQA term hears its 48 kHz output at 16 kHz through it): content
    below 8 kHz comes through as soxr resamples it, a 12 kHz tone is removed, not aliased to 4 kHz."""
    from gapse_core.audio.resample import decimate

    up = resample(speech16k, 16000, 48000)
    t = np.arange(len(up)) / 48000
    x = torch.tensor(up + 0.3 * np.sin(2 * np.pi * 12000 * t), dtype=torch.float32, requires_grad=True)
    y = decimate(x[None], 3)[0]
    assert y.shape == (len(up) // 3,)
    ref = resample(up, 48000, 16000)[: len(y)]
    mid = slice(400, -400)  # away from the wrap-around at the ends
    err = (y.detach().numpy() - ref)[mid]
    assert np.sqrt(np.mean(err ** 2)) < 0.01 * np.sqrt(np.mean(ref[mid] ** 2))  # -40 dB (soxr keeps a transition band)
    spec = np.abs(np.fft.rfft(y.detach().numpy()[mid] - ref[mid]))
    assert spec.max() < 1.0  # the 12 kHz tone would alias to a 4 kHz peak of about 0.15 * n
    y.pow(2).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_local_level_follows_each_stretch_and_holds_a_floor(rng):
    from gapse_core.audio.level import local_level

    fs = 8000
    x = np.concatenate([0.3 * rng.standard_normal(4 * fs), 0.003 * rng.standard_normal(4 * fs),
                        np.zeros(4 * fs)]).astype(np.float32)
    level = local_level(x, fs, seconds=1.0, floor_db=-60.0)
    assert level.shape == x.shape and level.dtype == np.float32
    assert abs(level[2 * fs] / 0.3 - 1) < 0.1 and abs(level[6 * fs] / 0.003 - 1) < 0.1  # 40 dB apart
    assert level[10 * fs] == pytest.approx(level.max() * 1e-3, rel=1e-5)  # silence: held at the floor
    assert local_level(np.zeros(10, np.float32), fs).min() >= 1e-5


def test_local_level_of_a_quiet_stretch_is_not_its_loud_neighbours(rng):
    """Beside a step in level the quieter one-sided window is taken: a quiet stretch 0.1 s from a
    40 dB louder one keeps its own level (a centred 1 s window would read 0.19, 36 dB too loud), on
    both sides of the loud stretch; at the signal's ends the windows are whole (not one sample)."""
    from gapse_core.audio.level import local_level

    fs = 8000
    quiet, loud = 0.003 * rng.standard_normal(3 * fs), 0.3 * rng.standard_normal(3 * fs)
    x = np.concatenate([quiet, loud, quiet]).astype(np.float32)
    level = local_level(x, fs, seconds=1.0)
    for k in (3 * fs - fs // 10, 6 * fs + fs // 10):  # 0.1 s before and after the loud stretch
        assert abs(level[k] / 0.003 - 1) < 0.1
    assert abs(level[0] / 0.003 - 1) < 0.1 and abs(level[-1] / 0.003 - 1) < 0.1
    assert abs(level[int(4.5 * fs)] / 0.3 - 1) < 0.1
    assert np.allclose(local_level(np.full(100, 0.5, np.float32), fs), 0.5)  # shorter than a window: its RMS
