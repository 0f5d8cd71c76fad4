"""Corpus splits, the on-the-fly mixer and ``gapse simulate`` on a miniature data folder."""

import csv

import numpy as np
import soundfile as sf

from gapse_core.data.corpus import load_corpus
from gapse_core.data.evalset import simulate
from gapse_core.data.mixer import Mixer, MixtureConfig


def test_speaker_disjoint_splits(data_dir):
    train = load_corpus(data_dir, "train", val_speakers=0.3)
    val = load_corpus(data_dir, "val", val_speakers=0.3)
    ts, vs = {c.group for c in train.speech}, {c.group for c in val.speech}
    assert ts and vs and not ts & vs
    assert not {c.name for c in train.noise} & {c.name for c in val.noise}
    assert len(train.speech) + len(val.speech) == 24


def test_mixer_is_seeded_and_well_formed(data_dir):
    corpus = load_corpus(data_dir, "train", val_speakers=0.3)
    mixer = Mixer(corpus, MixtureConfig(rir_bank_size=2), rir_seed=3)
    a = mixer.example(np.random.default_rng(7), 16000, 1.0)
    b = mixer.example(np.random.default_rng(7), 16000, 1.0)
    np.testing.assert_array_equal(a["noisy"], b["noisy"])
    assert a["params"] == b["params"]
    for fs in (8000, 48000):
        e = mixer.example(np.random.default_rng(1), fs, 0.5)
        assert e["noisy"].shape == e["clean"].shape == (fs // 2,)
        assert np.isfinite(e["noisy"]).all() and np.abs(e["noisy"]).max() <= 0.9 + 1e-6


def test_mixer_forced_conditions(data_dir):
    corpus = load_corpus(data_dir, "train", val_speakers=0.3)
    mixer = Mixer(corpus, MixtureConfig(rir_bank_size=2), rir_seed=3)
    e = mixer.example(np.random.default_rng(0), 16000, 1.0, distortions=(), snr_db=60.0, reverb=False)
    # 60 dB SNR, no reverb, no distortion: noisy is the clean target up to the noise
    assert np.max(np.abs(e["noisy"] - e["clean"])) < 0.01 * np.max(np.abs(e["clean"]))
    assert e["params"]["distortions"] == "none" and "rir" not in e["params"]


def test_simulate_writes_a_set(data_dir, tmp_path):
    manifest = simulate(data_dir, tmp_path / "set", n=6, seed=0, preset="each", rates=(8000, 16000), seconds=1.0)
    rows = list(csv.DictReader(open(manifest)))
    assert [r["condition"] for r in rows] == ["noise", "reverb", "bandwidth", "clipping", "codec", "packet_loss"]
    for r in rows:
        c, fs = sf.read(tmp_path / "set" / "clean" / f"{r['id']}.wav")
        n, fs2 = sf.read(tmp_path / "set" / "noisy" / f"{r['id']}.wav")
        assert fs == fs2 == int(r["fs"]) and len(c) == len(n) == fs
    # seeded: the same call writes the same audio
    simulate(data_dir, tmp_path / "again", n=6, seed=0, preset="each", rates=(8000, 16000), seconds=1.0)
    a, _ = sf.read(tmp_path / "set" / "noisy" / "0003.wav")
    b, _ = sf.read(tmp_path / "again" / "noisy" / "0003.wav")
    np.testing.assert_array_equal(a, b)


def test_simulate_bandwidth4k_removes_the_band_above_4k_and_nothing_else(tmp_path):
    from gapse_core.data import synthetic

    corpus = synthetic.make_corpus(tmp_path / "data", n_speakers=8, utterances=1, n_noises=2, n_rirs=1,
                                   speech="espeak")  # real fricatives: energy above 4 kHz
    simulate(corpus, tmp_path / "bw", n=2, seed=0, preset="bandwidth4k", rates=(16000,), seconds=1.0, split="train")
    c, fs = sf.read(tmp_path / "bw" / "clean" / "0000.wav")
    x, _ = sf.read(tmp_path / "bw" / "noisy" / "0000.wav")
    f = np.fft.rfftfreq(len(c), 1 / fs)
    cs, xs = np.abs(np.fft.rfft(c)) ** 2, np.abs(np.fft.rfft(x)) ** 2
    assert cs[f > 4200].sum() > 1e-2 * cs.sum()  # the clean speech has an upper band ...
    assert xs[f > 4200].sum() < 1e-4 * xs.sum()  # ... and the input has none
    low = f < 3800
    assert np.abs(xs[low] - cs[low]).sum() < 0.05 * cs[low].sum()  # the lower band is the clean speech
