# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 8 · Evaluation: the metrics, the peers, and what the numbers can and cannot tell
#
# A speech enhancer is judged by listeners. Metrics stand in for them, each blind in its own way:
#
# | metric | compares | blind to / fooled by |
# |---|---|---|
# | **PESQ-WB** (ITU-T P.862.2) | output vs clean, perceptual model, 1.04–4.64 | built for telephone codecs; punishes the small timing and phase liberties a generative model takes |
# | **ESTOI** | short-time envelope correlation, 0–1 | quality: a harsh but intelligible output scores high |
# | **SI-SDR** (dB) | waveform error after optimal scaling | any phase change counts as error, so a perfect-sounding resynthesis can score near 0 dB |
# | **LSD** (dB) | log-spectra, lower is better | phase and timing entirely |
# | **DNSMOS** OVRL/SIG/BAK | the output alone, a network trained on listener ratings | content: fluent invented speech can score *above* the clean reference |
# | **speaker similarity** | d-vectors of output and reference | words |
#
# This is why the papers report several at once, and why a generative branch can "win" DNSMOS
# while losing PESQ. Every function used here lives in `gapse_core.metrics`.

# %%
import numpy as np

from gapse_core import metrics, tutorial
from gapse_core.audio.io import load

clean, fs = load(tutorial.examples_dir() / "clean_allison_pink.wav")
rng = np.random.default_rng(0)

# %% [markdown]
# ## Known answers first
# A metric you trust must give the expected value where the answer is known: an identical
# signal, noise at an exactly known SNR (made orthogonal to the speech, so SI-SDR must return
# it to the hundredth), and noise with no speech at all.

# %%
noise = rng.standard_normal(len(clean))
noise -= np.dot(noise, clean) / np.dot(clean, clean) * clean  # orthogonal to the speech
rows = []
for snr in (20, 10, 0):
    n = noise * np.linalg.norm(clean) / np.linalg.norm(noise) / 10 ** (snr / 20)
    y = (clean + n).astype(np.float32)
    rows.append((f"speech + noise at {snr} dB", metrics.si_sdr(y, clean), metrics.pesq_wb(y, clean, fs),
                 metrics.estoi(y, clean, fs), metrics.lsd(y, clean, fs)))
rows.insert(0, ("identical", metrics.si_sdr(clean, clean), metrics.pesq_wb(clean, clean, fs),
                metrics.estoi(clean, clean, fs), metrics.lsd(clean, clean, fs)))
pure = (0.05 * rng.standard_normal(len(clean))).astype(np.float32)
rows.append(("noise alone", metrics.si_sdr(pure, clean), metrics.pesq_wb(pure, clean, fs),
             metrics.estoi(pure, clean, fs), metrics.lsd(pure, clean, fs)))
print(f"{'case':28s} {'SI-SDR':>8s} {'PESQ':>6s} {'ESTOI':>6s} {'LSD':>6s}")
for name, *vals in rows:
    print(f"{name:28s} " + " ".join(f"{v:8.2f}" if i == 0 else f"{v:6.2f}" for i, v in enumerate(vals)))

# %% [markdown]
# ## LSD over a band
# A bandwidth limit damages only the band it removes. Full-band LSD averages that band with the
# intact one below it; `metrics.lsd(..., band=(low, high))`, or `gapse eval --lsd-band 4000-8000`,
# scores the band alone. The floor matters too: `metrics.lsd` works on an *unnormalised* STFT,
# where its 1e-8 power floor lies 25-60 dB below a typical speech bin, so a restored band that is
# there but too quiet still counts as better than no band at all. (On scipy's
# window-normalised STFT, which gapse used before, that floor sat at the level of a typical
# speech bin and hid exactly this difference: see `checkpoints/postnet-gap-small.md`.)

# %%
from gapse_core.data.degrade import bandwidth_limit

limited = bandwidth_limit(clean, fs, 8000)  # nothing above 4 kHz
spec, freqs = np.fft.rfft(clean), np.fft.rfftfreq(len(clean), 1 / fs)
quiet_band = np.fft.irfft(np.where(freqs >= 4000, 0.1 * spec, 0), len(clean)).astype(np.float32)
print(f"{'signal':38s} {'LSD':>6s} {'0-4 kHz':>8s} {'4-8 kHz':>8s}")
for name, y in (("band-limited to 4 kHz", limited), ("+ the missing band, 20 dB too quiet", limited + quiet_band),
                ("clean", clean)):
    print(f"{name:38s} {metrics.lsd(y, clean, fs):6.2f} {metrics.lsd(y, clean, fs, band=(0, 3900)):8.2f} "
          f"{metrics.lsd(y, clean, fs, band=(4000, 8000)):8.2f}")

# %% [markdown]
# ## How the metrics move with SNR
# Move the slider: PESQ and ESTOI saturate at high SNR and flatten out below 0 dB, SI-SDR
# follows the SNR exactly (by construction), DNSMOS BAK tracks the audible noise.

# %%
import ipywidgets as W
from IPython.display import display


def at_snr(snr_db=5):
    n = noise * np.linalg.norm(clean) / np.linalg.norm(noise) / 10 ** (snr_db / 20)
    y = (clean + n).astype(np.float32)
    s = metrics.score(y, fs, clean, use_dnsmos=not tutorial.quick())
    print("  ".join(f"{k} {v:.2f}" for k, v in s.items()))
    tutorial.play(y, fs)


if tutorial.quick():  # headless (CI): no one moves the slider; show one setting
    at_snr(5)
else:
    display(W.interactive(at_snr, snr_db=W.IntSlider(value=5, min=-10, max=30, step=5, description="SNR (dB)")))


# %% [markdown]
# ## The peers
# Other enhancers a user might pick instead, run on the same input and aligned sample for
# sample (their algorithmic delay removed; `tests/test_peers.py` checks it): spectral gating
# (`noisereduce`), RNNoise (a small GRU on hand-made features, 48 kHz) and DeepFilterNet3
# (the official ONNX model; 2.1 M parameters trained on the DNS Challenge data).

# %%
import time

from gapse_core.peers import PEERS
from gapse_core.systems import Enhancer

noisy, _ = load(tutorial.examples_dir() / "noisy_allison_pink.wav")
outputs = {"noisy": noisy}
times = {}
for name, peer in PEERS.items():
    if name == "noisy":
        continue
    t = time.perf_counter()
    outputs[name] = peer.enhance(noisy, fs)
    times[name] = time.perf_counter() - t
t = time.perf_counter()
outputs["gapse predictive"] = Enhancer("predictive", device="cpu").enhance(noisy, fs).final
times["gapse predictive"] = time.perf_counter() - t
for name, y in outputs.items():
    s = metrics.score(y, fs, clean, use_dnsmos=not tutorial.quick(), use_speaker=True)
    took = f"  ({times[name]:.2f} s)" if name in times else ""
    print(f"{name:18s} " + "  ".join(f"{k} {v:.2f}" for k, v in s.items()) + took)
    tutorial.play(y, fs, name)

# %% [markdown]
# ## A whole set, one table
# `gapse eval SET --systems predictive --peers noisereduce,rnnoise,deepfilternet3 --speaker --plots`
# does all of this for a folder: same files, same run, tables per distortion and figures.
# `make results` rebuilds `docs/RESULTS.md` this way from scratch.

# %%
import tempfile
from pathlib import Path

from IPython.display import Image, Markdown

from gapse_core.data.evalset import simulate
from gapse_core.evaluate import evaluate_set, render

set_dir = Path(tempfile.mkdtemp(prefix="gapse-nb8-"))
simulate(tutorial.data_dir(), set_dir, n=6 if tutorial.quick() else 24, seed=3, preset="each", seconds=3.0)
summary = evaluate_set(set_dir, ["predictive"], set_dir / "report", peers=["noisereduce", "rnnoise", "deepfilternet3"],
                       use_dnsmos=not tutorial.quick(), use_speaker=True, plots=True, progress=lambda m: None)
display(Markdown(render(summary)))
display(Image(filename=str(set_dir / "report" / "plots" / "metrics.png")))

# %% [markdown]
# ## Listen, blind
# Metrics stand in for listeners; a quick blind test asks the listeners. `create_test` enhances
# each clip with each system into a folder of level-matched stimuli with opaque names (the
# input and, where there is one, the clean recording hidden among them); each listener hears a
# trial's versions in an order of their own, labelled A, B, C, and rates each 1 (bad) to 5
# (excellent), the ACR scale DNSMOS imitates. The demo's *Listening test* tab and
# `gapse listen create | summary` drive the same module.

# %%
from gapse_core.listening import create_test

noisy_files = sorted((set_dir / "noisy").glob("*.wav"))[:3]
test = create_test(set_dir / "listening", noisy_files, ["predictive"],
                   references=[set_dir / "clean" / p.name for p in noisy_files], dnsmos=not tutorial.quick())
print(test.conditions, "x", len(test.trials), "trials")
listener = "me"
for label, stimulus in zip("ABC", test.order(listener, 0)):  # trial 1, as this listener hears it
    tutorial.play(*load(test.root / stimulus.path), f"sample {label}")

# %% [markdown]
# Rate the three samples above, e.g. `my_ratings = {"A": 2, "B": 4, "C": 5}`, and run the cell:
# the summary reveals which sample was which condition, with a 95 % confidence interval (which
# one listener and one trial leave wide open) and the DNSMOS OVRL of the same stimuli.

# %%
my_ratings = {}
if my_ratings:
    test.record(listener, 0, my_ratings)
    print({label: s.condition for label, s in zip("ABC", test.order(listener, 0))})
display(Markdown(test.summary_markdown()))

# %% [markdown]
# ## What the numbers cannot tell
# * A few dozen clips give means with wide error bars: a 0.05 PESQ difference between two
#   systems on 24 files is noise. `per_file.csv` holds every score for a paired test.
# * DNSMOS was trained on ratings of *noisy and enhanced* speech, not of vocoded speech; it
#   rewards clean-sounding output whatever words it carries. Pair it with ESTOI, speaker
#   similarity and, when you have an ASR model (`gapse eval --asr-model DIR`), word error rate.
# * Simulated sets are not recordings: judge on real noisy speech too, and listen.
