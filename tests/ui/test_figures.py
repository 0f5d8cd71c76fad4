"""The demo's figures on synthetic results: panels, linked axes, mask and disagreement maps, pooling."""

import numpy as np

from gapse_core.systems import EnhancementResult
from gapse_core.audio.spectrogram import MAX_BINS, MAX_FRAMES, log_spectrogram
from gapse_demo.figures import spectrogram_figure


def _result(seconds=2.0, fs=16000, with_fusion=False):
    rng = np.random.default_rng(0)
    n = int(seconds * fs)
    x = (0.1 * rng.standard_normal(n)).astype(np.float32)
    branches = {"predictive": 0.5 * x}
    mask = None
    if with_fusion:
        branches["generative"] = 0.25 * x
        mask = rng.uniform(0, 1, (257, n // 256 + 1))
    return EnhancementResult("test", fs, x, 0.4 * x, branches, mask=mask)


def test_panels_share_axes():
    fig = spectrogram_figure(_result(), reference=np.zeros(32000, np.float32))
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["Input", "Predictive branch", "Final (test)", "Clean reference"]
    assert len(fig.data) == 4 and all(t.type == "heatmap" for t in fig.data)
    # linked axes: every time axis follows the bottom one, every frequency axis the first
    assert all(fig.layout[f"xaxis{i}"].matches == "x4" for i in ("", 2, 3))
    assert all(fig.layout[f"yaxis{i}"].matches == "y" for i in range(2, 5))


def test_mask_and_disagreement_panels():
    fig = spectrogram_figure(_result(with_fusion=True))
    titles = [a.text for a in fig.layout.annotations]
    assert titles[-2].startswith("Fusion mask") and titles[-1].startswith("Where generative departs")
    mask = np.asarray(fig.data[-2].z)
    assert mask.min() >= 0 and mask.max() <= 1
    # the disagreement of 0.25x vs 0.5x is 20*log10(2) = 6.02 dB everywhere the signal is above the floor
    diff = np.asarray(fig.data[-1].z)
    assert abs(np.median(diff) - 6.02) < 0.1


def test_a_48_khz_mask_lies_on_the_frequencies_of_a_96_khz_spectrogram():
    """Above 48 kHz the system fuses at 48 kHz: its mask (769 bins, 0-24 kHz) must be drawn on the
    96 kHz spectrograms' frequency axis (1537 bins, pooled by another factor), blank above 24 kHz."""
    fs, rng = 96000, np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(2 * fs)).astype(np.float32)
    mask = np.zeros((769, 2 * 48000 // 768 + 1), np.float32)
    mask[:257] = 1.0  # M = 1 below 8 kHz
    res = EnhancementResult("test", fs, x, 0.4 * x, {"predictive": 0.5 * x, "generative": 0.25 * x}, mask=mask)
    fig = spectrogram_figure(res)
    heat = fig.data[-2]
    z, freqs = np.asarray(heat.z, dtype=float), np.asarray(heat.y)
    assert z.shape[0] == len(freqs) == np.asarray(fig.data[0].y).shape[0]  # the spectrograms' rows
    assert np.all(z[freqs < 7500] == 1.0) and np.all(z[(freqs > 8500) & (freqs < 23500)] == 0.0)
    assert np.all(np.isnan(z[freqs > 24500]))


def test_disagreement_is_drawn_only_where_the_branches_are_audible():
    """Where both branches are digital silence (here all but two tones) their dB differ by noise of
    nothing; the map shows 0 there, and the real 6 dB at the tones."""
    fs, n = 16000, 32000
    t = np.arange(n) / fs
    x = (0.1 * np.sin(2 * np.pi * 1000 * t) + 0.1 * np.sin(2 * np.pi * 2000 * t)).astype(np.float32)
    quiet = (1e-9 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)  # two different silences
    res = EnhancementResult("test", fs, x, 0.4 * x, {"predictive": 0.5 * x + quiet, "generative": 0.25 * x},
                            mask=None)
    fig = spectrogram_figure(res)
    z = np.asarray(fig.data[-1].z, dtype=float)[:, 2:-2]  # (the first and last frames hear the cut edges)
    freqs = np.asarray(fig.data[-1].y)
    assert abs(np.median(z[np.argmin(np.abs(freqs - 1000))]) - 6.02) < 0.1
    assert np.all(z[freqs > 5000] == 0.0)


def test_long_inputs_are_pooled():
    t, f, db = log_spectrogram(np.random.default_rng(0).standard_normal(48000 * 120).astype(np.float32), 48000)
    assert db.shape[0] <= MAX_BINS and db.shape[1] <= MAX_FRAMES
    assert abs(t[-1] - 120) < 1.0 and abs(f[-1] - 24000) < 300
