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
# # 7 · Fusion: the mask between a predictive and a generative branch
#
# The two branches fail differently. The **predictive** branch (TF-GridNet, notebook 2) keeps
# what was said and where it was said, but leaves residual noise and muffles what the
# distortion destroyed. A **generative** branch (DeWavLM + vocoder, notebooks 4-5, or ParaGSE's
# codec tokens, notebook 6) produces clean-sounding speech, but may invent details that were
# never there. The hybrid system's answer (hybrid paper, Sec. 2.3) is a light network that
# decides, **per time-frequency bin**, how much to trust each:
#
# $$\hat Y = M \odot \hat Y_{pred} + (1 - M) \odot \hat Y_{gen},\qquad M \in [0, 1].$$
#
# It is trained with the paper's loss (Eq. 4): multi-resolution STFT + 0.5 L1 + an
# **SQA term**, the score a learned quality model gives the fused output. Here that model is
# gapse's own small network trained to imitate DNSMOS (the paper's predicts five metrics).
#
# This notebook runs `paragse-fusion` (the predictive branch + ParaGSE, fused: a pairing no
# paper tried), looks at the mask, compares it with every fixed mix of the two branches,
# checks the learned quality model against DNSMOS, then turns to GAP-URGENet's own fusion, the
# 48 kHz **PostNet** with bandwidth extension, and trains all three stages in miniature.

# %%
import numpy as np
import plotly.graph_objects as go

from gapse_core import metrics, tutorial
from gapse_core.audio.io import load
from gapse_core.systems import SYSTEMS, Enhancer

QUICK = tutorial.quick()
for name in ("paragse-fusion", "gap-fusion"):
    print(f"{name}: {SYSTEMS[name].description}")

noisy, fs = load(tutorial.examples_dir() / "noisy_allison_pink.wav")
clean, _ = load(tutorial.examples_dir() / "clean_allison_pink.wav")
enhancer = Enhancer("paragse-fusion", device="cpu")
result = enhancer.enhance(noisy, fs)
print(f"{len(noisy) / fs:.2f} s at {fs} Hz; seconds per stage: "
      + ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items()))

# %% [markdown]
# ## Hear every stage
# The input, each branch, and the fused output (the system's final signal).

# %%
tutorial.play(result.input, fs, "Input")
tutorial.play(result.branches["predictive"], fs, "Predictive branch (TF-GridNet)")
tutorial.play(result.branches["generative"], fs, "Generative branch (ParaGSE)")
tutorial.play(result.final, fs, "Fused (mask fusion)")
tutorial.play(clean, fs, "Clean reference")

# %% [markdown]
# ## See the mask
# The demo's figure: spectrograms on linked axes, then the mask *M* (yellow = predictive,
# dark = generative) and where the generative branch departs from the predictive one. Above
# 8 kHz the generative branch has nothing (it works at 16 kHz), so *M* is 1 there by design.

# %%
from gapse_demo.figures import spectrogram_figure

spectrogram_figure(result, reference=clean).show()

# %% [markdown]
# Averaged over time, the mask shows which frequencies the network hands to which branch;
# averaged over frequency, how its trust moves with the speech.

# %%
model = enhancer.models["fusion"]
low = model.low_bins(fs)
mask = result.mask.astype(np.float32)
freqs = np.arange(mask.shape[0]) * fs / model.stft.n_fft(fs)
times = np.arange(mask.shape[1]) * model.stft.hop(fs) / fs
from plotly.subplots import make_subplots

fig = make_subplots(rows=1, cols=2, subplot_titles=["mean M per frequency", "mean M (below 8 kHz) per frame"])
fig.add_scatter(x=freqs[:low], y=mask[:low].mean(1), row=1, col=1, name="M(f)")
fig.add_scatter(x=times, y=mask[:low].mean(0), row=1, col=2, name="M(t)")
fig.update_xaxes(title_text="Hz", row=1, col=1)
fig.update_xaxes(title_text="s", row=1, col=2)
fig.update_yaxes(range=[0, 1])
fig.update_layout(height=300, showlegend=False)
fig.show()

# %% [markdown]
# ## A learned mask against every fixed mix
# If one number *m* for the whole clip were enough, the network would be pointless. The
# slider mixes the two branches with a fixed *m* (the same Eq. 1 with *M* = *m* everywhere);
# the curve sweeps *m* from 0 (generative only) to 1 (predictive only) and marks where the
# learned mask lands.

# %%
import torch

args = [torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None]
        for a in (result.input, result.branches["predictive"], result.branches["generative"])]
stft = model.stft
spec_p, spec_g = stft.stft(args[1], fs), stft.stft(args[2], fs)


def fixed_mix(m: float) -> np.ndarray:
    """Eq. 1 with the same m in every bin below 8 kHz (and the predictive branch above)."""
    weight = torch.ones(spec_p.shape[1], 1)
    weight[:low] = m
    return stft.istft(weight * spec_p + (1 - weight) * spec_g, fs, args[0].shape[-1])[0].numpy()


def quality(y: np.ndarray) -> float:
    """DNSMOS OVRL (the learned imitation in QUICK mode: ~50x faster)."""
    return metrics.learned_quality(y, fs)["ovrl"] if QUICK else metrics.dnsmos(y, fs)["ovrl"]


grid = np.linspace(0, 1, 6 if QUICK else 11)
curve = [(metrics.pesq_wb(fixed_mix(m), clean, fs), quality(fixed_mix(m))) for m in grid]
learned = (metrics.pesq_wb(result.final, clean, fs), quality(result.final))
fig = go.Figure()
fig.add_scatter(x=[c[0] for c in curve], y=[c[1] for c in curve], mode="lines+markers+text", name="fixed m",
                text=[f"m={m:.1f}" for m in grid], textposition="top center")
fig.add_scatter(x=[learned[0]], y=[learned[1]], mode="markers", marker=dict(size=14, symbol="star"),
                name="learned mask")
fig.update_layout(height=380, xaxis_title="PESQ-WB", yaxis_title="OVRL" + (" (learned)" if QUICK else " (DNSMOS)"))
fig.show()

# %%
import ipywidgets as widgets
from IPython.display import display


def listen(m: float = 0.5):
    y = fixed_mix(m)
    print(f"m = {m:.2f}: PESQ-WB {metrics.pesq_wb(y, clean, fs):.2f}, "
          f"learned OVRL {metrics.learned_quality(y, fs)['ovrl']:.2f}")
    tutorial.play(y, fs)


if QUICK:  # headless (CI): no one moves the slider, and a widget's output is not a cell output
    listen(0.5)
else:
    display(widgets.interactive(listen, m=widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.1)))

# %% [markdown]
# ## The learned quality model (SQA)
# `quality-small` predicts DNSMOS's (OVRL, SIG, BAK) from the waveform, with gradients. It
# learned from clean, degraded and enhanced training clips scored by DNSMOS; its card gives
# the correlation on held-out speakers. Here: the signals of this notebook, each scored by
# both.

# %%
signals = {"input": result.input, "predictive": result.branches["predictive"],
           "generative": result.branches["generative"], "fused": result.final, "clean": clean}
signals.update({f"mix m={m:.1f}": fixed_mix(m) for m in (0.25, 0.75)})
rows = [(name, metrics.dnsmos(y, fs)["ovrl"], metrics.learned_quality(y, fs)["ovrl"]) for name, y in signals.items()]
fig = go.Figure(go.Scatter(x=[r[1] for r in rows], y=[r[2] for r in rows], mode="markers+text",
                           text=[r[0] for r in rows], textposition="top center"))
fig.add_scatter(x=[1, 4], y=[1, 4], mode="lines", line=dict(dash="dot"), name="y = x")
fig.update_layout(height=380, xaxis_title="DNSMOS OVRL", yaxis_title="learned OVRL", showlegend=False)
fig.show()

# %% [markdown]
# ## GAP-URGENet's PostNet: fusion at 48 kHz, and the band put back
# GAP-URGENet fuses its branches differently (Sec. 2.3). Both outputs go up to 48 kHz; one
# STFT of 32 ms / 16 ms gives 769 bins, cut into **3 bands of 257** (0-8, 8-16, 16-24 kHz) that
# are stacked as channels, so one TF-GridNet (the predictive branch's blocks) sees all bands on
# a 257-bin axis and maps them to a *correction* of the predictive branch's spectrum. Unlike a
# mask it can add what neither branch has, such as the band a narrow-band line removed
# (bandwidth extension), and the result goes back to the input's rate.
#
# The shipped PostNet learned from 16 kHz speech (there is no 48 kHz speech to learn from
# here), so it restores up to 8 kHz and leaves the band above to the predictive branch. Here
# the clip is first band-limited to 4 kHz, one of the URGENT distortions.

# %%
import torch

from gapse_core.audio.resample import resample
from gapse_core.data.degrade import bandwidth_limit

narrow = bandwidth_limit(noisy, fs, 8000)  # through 8 kHz and back: nothing above 4 kHz
gap = Enhancer("gap-urgenet", device="cpu")
res_gap = gap.enhance(narrow, fs)
post = gap.models["postnet"]
spec = post.stft.stft(torch.from_numpy(resample(narrow, fs, post.rate))[None], post.rate)
print("48 kHz spectrum", tuple(spec.shape), "-> 3 bands as channels", tuple(post.split(spec).shape))
signals = {"band-limited input": narrow, "predictive branch": res_gap.branches["predictive"],
           "generative branch": res_gap.branches["generative"], "gap-urgenet (PostNet)": res_gap.final}
for name, y in signals.items():
    print(f"{name:24s} LSD {metrics.lsd(y, clean, fs):5.2f} dB (4-8 kHz: {metrics.lsd(y, clean, fs, band=(4000, 8000)):5.2f})"
          f"   PESQ-WB {metrics.pesq_wb(y, clean, fs):.2f}")
tutorial.spectrograms({**signals, "clean reference": clean}, fs, height=120).show()
tutorial.play(res_gap.final, fs, "gap-urgenet: PostNet output")

# %% [markdown]
# ## Training all three stages in miniature
# Both stages read the **branch cache** (`gapse_core/train/branch_cache.py`): simulated
# examples with each frozen branch's output and DNSMOS's scores, made once, because running
# the branches and DNSMOS in every step would cost far more than the small networks being
# trained. Clips are 2.3 s here (DNSMOS doubles a short clip until it lasts 9 s: 2.3 s needs
# one pass of its model), a handful of them, and a few dozen steps: enough to watch the
# losses move, not to learn much.

# %%
import csv
import tempfile
from pathlib import Path

from gapse_core.train.branch_cache import BranchCacheConfig
from gapse_core.config import to_dict
from gapse_core.train.run import run

out = Path(tempfile.mkdtemp(prefix="gapse-nb7-"))
cache = BranchCacheConfig(path=str(tutorial.data_dir()), dir=str(out / "cache"), systems=("predictive", "paragse"),
                          train_examples=6 if QUICK else 40, val_examples=2 if QUICK else 8, seconds=2.3, chunk=4)
steps = 20 if QUICK else 200
common = {"cache": to_dict(cache), "trainer.steps": steps, "trainer.val_every": steps, "trainer.log_every": 5,
          "trainer.progress": False, "optim.warmup_steps": 5}
q = run("quality", tutorial.REPO / "configs" / "quality" / "tiny.yaml", out / "quality", common, device="cpu")
print("quality stage, held-out clips:", {k: round(v, 3) for k, v in q.items()})
f = run("fusion", tutorial.REPO / "configs" / "fusion" / "tiny.yaml", out / "fusion",
        {"loss.quality": str(out / "quality" / "model.pt"), "data.seconds": 1.0, **common}, device="cpu")
print("fusion stage, held-out clips:", {k: round(v, 3) for k, v in f.items()})
p = run("postnet", tutorial.REPO / "configs" / "postnet" / "tiny.yaml", out / "postnet", common, device="cpu")
print("postnet stage, held-out clips:", {k: round(v, 3) for k, v in p.items()})
fig = go.Figure()
for name, key in (("quality", "mse_ovrl"), ("fusion", "mrstft"), ("fusion", "sqa_ovrl"), ("postnet", "mel")):
    pts = [(int(r["step"]), float(r[key])) for r in csv.DictReader(open(out / name / "log.csv")) if r.get(key)]
    fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], name=f"{name}: {key}")
fig.update_layout(height=300, xaxis_title="step")
fig.show()

# %% [markdown]
# ## What the numbers say
# `checkpoints/fusion-paragse-small.md`, `checkpoints/fusion-gap-small.md` and
# `checkpoints/postnet-gap-small.md` hold the measured tables: each fused system against each
# of its own branches, on held-out speakers, per distortion. The paper reports its fusion (with a much larger AR-token branch) ahead of
# both branches on DNSMOS, NISQA and UTMOS in the URGENT 2026 blind test; whether our small
# fusion manages that is exactly what the card measures, not something to assume.
