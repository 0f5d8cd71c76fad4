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
# # 1 · Degradations: what the models must undo
#
# The URGENT challenge's simulation (which gapse follows for training and evaluation) spoils
# clean speech in a fixed order: **reverberation** (a room impulse response; the target keeps
# only the first 50 ms, the "early" part) → **additive noise** at an SNR → up to three extra
# distortions: **bandwidth limitation**, **clipping**, a lossy **codec** (mp3, vorbis, opus) and
# **packet loss** (20 ms packets replaced by silence). Each is one function in
# `gapse_core.data.degrade`; here we hear and see each, then build a training mixture step by step.

# %%
import numpy as np

from gapse_core import tutorial
from gapse_core.audio.io import load
from gapse_core.data.playground import Degradation, degrade

clean, fs = load(tutorial.examples_dir() / "clean_allison_pink.wav")


spectrograms = tutorial.spectrograms  # one spectrogram row per signal


# %% [markdown]
# ## Each distortion alone

# %%
cases = {
    "clean": Degradation(noise="none"),
    "pink noise, 0 dB SNR": Degradation(noise="pink", snr_db=0.0),
    "reverberation, RT60 0.8 s": Degradation(noise="none", rt60=0.8),
    "band limited to 4 kHz": Degradation(noise="none", band_limit_hz=4000),
    "clipped (10 % of samples)": Degradation(noise="none", clip_fraction=0.10),
    "mp3, strong compression": Degradation(noise="none", codec="mp3", codec_quality=0.9),
    "20 % packets lost": Degradation(noise="none", packet_loss=0.2),
}
degraded = {name: degrade(clean, fs, d)[0] for name, d in cases.items()}
for name, y in degraded.items():
    tutorial.play(y, fs, name)
spectrograms(degraded, fs).show()

# %% [markdown]
# ## A training mixture, step by step
# `Mixer.example` draws every parameter at random (seeded) from held-out-aware corpora; the
# returned `params` record each choice, so any example can be reproduced and explained.

# %%
from gapse_core.data.corpus import load_corpus
from gapse_core.data.mixer import Mixer, MixtureConfig

corpus = load_corpus(tutorial.data_dir(), "train")
print(corpus.summary())
mixer = Mixer(corpus, MixtureConfig(rir_bank_size=4 if tutorial.quick() else 48))
rng = np.random.default_rng(7)
ex = mixer.example(rng, 16000, 4.0)
for k, v in ex["params"].items():
    print(f"{k:16s} {v}")
tutorial.play(ex["noisy"], 16000, "the mixture")
tutorial.play(ex["clean"], 16000, "its training target")
spectrograms({"mixture": ex["noisy"], "target": ex["clean"]}, 16000).show()

# %% [markdown]
# ## Try it yourself
# Move the sliders: the clip is degraded again with your settings (the demo's "playground"
# tab does the same). Notice how little SNR it takes to bury the consonants, and how
# reverberation smears energy forward in time, which a mask on the noisy spectrum cannot undo
# well but a generative model can resynthesise.

# %%
import ipywidgets as W
from IPython.display import display


def render(snr_db=5.0, rt60=0.0, band_limit_hz=0, packet_loss=0.0):
    d = Degradation(noise="pink", snr_db=snr_db, rt60=rt60, band_limit_hz=band_limit_hz, packet_loss=packet_loss)
    y, _target = degrade(clean, fs, d)
    tutorial.play(y, fs, str(d))
    spectrograms({"degraded": y}, fs, height=220).show()


if tutorial.quick():  # headless (CI): no one moves a slider; draw once with the defaults
    render()
else:
    display(W.interactive(
        render,
        snr_db=W.FloatSlider(value=5, min=-10, max=30, step=1, description="SNR (dB)"),
        rt60=W.FloatSlider(value=0.0, min=0.0, max=1.5, step=0.1, description="RT60 (s)"),
        band_limit_hz=W.IntSlider(value=0, min=0, max=8000, step=500, description="band (Hz, 0=full)"),
        packet_loss=W.FloatSlider(value=0.0, min=0.0, max=0.4, step=0.05, description="packet loss"),
    ))
