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
# # 0 · A tour of gapse
#
# gapse enhances speech: it takes a recording spoiled by noise, reverberation, a narrow
# band, clipping, a lossy codec or lost packets, and returns the speech as if it had been
# recorded cleanly. The 2026 systems it implements combine two kinds of model:
#
# * a **predictive** branch (TF-GridNet) that estimates the clean spectrum directly: faithful
#   to what was said and by whom, but it can leave residual noise and muffled bands;
# * a **generative** branch (SSL features + vocoder, or codec tokens) that resynthesises
#   speech: clean-sounding, but free to invent details;
#
# and a **fusion** stage that takes the best of both. This notebook loads a system, enhances a
# clip, and shows and plays everything the system produced. Every step calls `gapse_core`;
# nothing here is re-implemented.

# %%
from gapse_core import tutorial
from gapse_core.audio.io import load
from gapse_core.systems import SYSTEMS, Enhancer

for name, spec in SYSTEMS.items():
    print(f"{name:12s} {spec.description}")

# %% [markdown]
# ## Enhance a clip
# `examples/` holds a few noisy/clean pairs that gapse made itself (a recorded prompt with
# pink noise, the same voice in a simulated room with wind, and espeak-ng speech with mains hum).

# %%
noisy, fs = load(tutorial.examples_dir() / "noisy_allison_room_wind.wav")
clean, _ = load(tutorial.examples_dir() / "clean_allison_room_wind.wav")
enhancer = Enhancer("predictive", device="cpu")
result = enhancer.enhance(noisy, fs)
print(f"{len(noisy) / fs:.2f} s at {fs} Hz; timings per stage: "
      + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()))

# %%
tutorial.play(result.input, fs, "Input (noisy, reverberant)")
tutorial.play(result.final, fs, f"Output of '{result.system}'")
tutorial.play(clean, fs, "Clean reference")

# %% [markdown]
# ## See it
# The same figure the demo draws: one spectrogram per signal, on linked axes (zoom one, and
# all follow). Systems with a fusion network add the mask *M* (1 = trust the predictive
# branch, 0 = trust the generative one) and a map of where the generative branch departs
# from the predictive one.

# %%
from gapse_demo.figures import spectrogram_figure

spectrogram_figure(result, reference=clean).show()

# %% [markdown]
# ## Measure it
# PESQ-WB and ESTOI compare with the clean reference, SI-SDR measures the residual error in
# dB, LSD the spectral distance, and DNSMOS predicts a listener's opinion from the output
# alone. Notebook 8 explains each in detail.

# %%
from gapse_core import metrics

for label, y in (("noisy", result.input), (result.system, result.final)):
    s = metrics.score(y, fs, clean)
    print(f"{label:12s} " + "  ".join(f"{k} {v:6.3f}" for k, v in s.items()))

# %% [markdown]
# The shipped predictive model is small (0.2 M parameters, trained for hours on a laptop
# CPU); its model card in `checkpoints/predictor-small.md` gives its measured gains and how far
# they fall short of the paper-sized models.
