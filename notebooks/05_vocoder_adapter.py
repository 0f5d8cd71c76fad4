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
# # 5 · Vocoder and adapter: from representations back to speech
#
# The last two pieces of GAP-URGENet's generative branch:
#
# * the **vocoder** (Vocos): a ConvNeXt backbone at the 50 Hz frame rate and an **iSTFT head**
#   that predicts a log-magnitude and a phase per frame (`n_fft` 1280 = 4 x hop, hop 320 = the
#   SSL frame step), trained on *clean* speech only: the frozen teacher's acoustic
#   representations in, the same speech out (copy-synthesis), with a mel loss and GAN losses;
# * the **adapter**: enhanced phonetic + noisy acoustic representations from DeWavLM-Omni ->
#   the same Vocos backbone without its head -> *enhanced* acoustic representations, which the
#   vocoder turns into speech without any fine-tuning.

# %%
import numpy as np
import plotly.graph_objects as go
import torch

from gapse_core import metrics, tutorial
from gapse_core.audio.io import load
from gapse_core.audio.resample import resample
from gapse_core.checkpoints import load_model

clean, fs = load(tutorial.examples_dir() / "clean_allison_pink.wav")
clean16 = resample(clean, fs, 16000)[: 16000 * 4]
teacher, _ = load_model("ssl-small")
vocoder, vmeta = load_model("vocoder-small")


spectrograms = tutorial.spectrograms  # one spectrogram row per signal


# %% [markdown]
# ## The iSTFT head, shape by shape
# One frame of features becomes one hop of samples: the backbone never upsamples, the inverse
# STFT does. gapse centres the encoder's frames (notebook 4) so that dropping the first 120
# output samples lines the waveform up with the input.

# %%
with torch.no_grad():
    feats = teacher.centred(torch.from_numpy(clean16)[None]).acoustic  # [1, T, D]
    hidden = vocoder.backbone(feats.transpose(1, 2))  # [1, T, dim]
    spec = vocoder.head.spectrum(hidden)  # [1, n_fft/2 + 1, T] complex
    wave = vocoder.synthesize(feats, len(clean16))  # [1, n]
print(f"input {len(clean16)} samples -> acoustic features {tuple(feats.shape)} -> backbone {tuple(hidden.shape)} "
      f"-> spectrum {tuple(spec.shape)} -> waveform {tuple(wave.shape)}")
print(f"vocoder-small: {sum(p.numel() for p in vocoder.parameters()):,} parameters, trained {vmeta.get('steps')} steps")

# %% [markdown]
# ## Copy-synthesis
# The teacher's representations of held-out clean speech through the shipped vocoder. Its
# model card reports PESQ-WB, ESTOI and DNSMOS over many held-out clips; here one clip.

# %%
copy = wave[0].numpy()
print(f"PESQ-WB {metrics.pesq_wb(copy, clean16, 16000):.2f}, ESTOI {metrics.estoi(copy, clean16, 16000):.2f}")
tutorial.play(clean16, 16000, "clean")
tutorial.play(copy, 16000, "copy-synthesis (teacher features -> vocoder)")
spectrograms({"clean": clean16, "copy-synthesis": copy}, 16000).show()

# %% [markdown]
# **What the features cost, and what the recipe costs.** The same vocoder, loss and schedule
# trained on Vocos's own input instead (`teacher: log-mel`: `LogMelFrames`, 96 log-mel bands of
# the very frames the SSL encoder's CNN sees) copies 40 held-out clips at ESTOI 0.83 and PESQ-WB
# 1.87, against 0.51 and 1.13 from `ssl-small`'s first layer: what a small, briefly trained
# encoder's 96 dimensions drop, no vocoder can put back. Yet its DNSMOS OVRL is *lower*, 2.18
# against 2.54: with the fine structure right and the phase left to a mel loss that cannot see
# it, the output sounds rough. The GAN stage below exists for the phase.
# (`checkpoints/vocoder-small.md` has the tables and commands.)

# %% [markdown]
# ## The horizontal lines: a 50 Hz buzz
# The copy-synthesis spectrogram above has faint horizontal stripes. Zoom into the long-term
# spectrum: the copy has peaks at every multiple of 50 Hz, the frame rate. When the head's
# phases change slowly from frame to frame, each frame repeats part of the last, and a signal
# that repeats every hop has power only at multiples of `16000 / 320 = 50` Hz.
# `metrics.frame_rate_buzz` is the mean height of those peaks above the valleys between them,
# in dB (speech and noise: about 0).

# %%
from scipy.signal import welch

fig = go.Figure()
for name, sig in {"clean": clean16, "copy-synthesis": copy}.items():
    f, psd = welch(sig, 16000, nperseg=3200)  # 5 Hz bins
    band = (f >= 2000) & (f <= 2600)
    fig.add_scatter(x=f[band], y=10 * np.log10(psd[band] + 1e-20), name=f"{name}: buzz "
                    f"{metrics.frame_rate_buzz(sig, 16000):.1f} dB")
for k in range(40, 53):
    fig.add_vline(x=50 * k, line_width=0.5, line_dash="dot", line_color="grey")
fig.update_layout(xaxis_title="Hz", yaxis_title="dB", height=320, title="2.0-2.6 kHz; dotted: multiples of 50 Hz")
fig.show()

# %% [markdown]
# The mechanism in miniature: an iSTFT head whose every frame is the same single bin. With
# *absolute* phases (Vocos) the output repeats every hop, a buzz. With phases *integrated* over
# frames (`ISTFTHead(phase="increment")`: the head predicts each bin's deviation from its
# nominal advance of `2 pi k hop / n_fft` per frame, like a phase vocoder), the same frames make one
# steady sinusoid (`phase="rotating"`, phases relative to a reference that advances by that
# nominal step, makes the same sinusoid). Both remove the buzz of the real vocoder too, but DNSMOS
# scores their smeared sound 0.6-0.8 lower (`checkpoints/vocoder-small.md`): the phase still
# needs the adversarial stage.

# %%
from gapse_core.nn.vocos import ISTFTHead

fig = go.Figure()
for kind in ISTFTHead.PHASES:
    head = ISTFTHead(4, n_fft=64, hop=16, phase=kind)
    with torch.no_grad():
        head.out.weight.zero_()
        head.out.bias.zero_()
        head.out.bias[:33] = -30.0  # every bin silent ...
        head.out.bias[5] = 0.0  # ... but bin 5, which advances 1.25 cycles per hop
        y = head(torch.zeros(1, 12, 4))[0, 64:-64].numpy()
    fig.add_scatter(y=y, name=kind)
for n in range(0, 64 + 1, 16):
    fig.add_vline(x=n, line_width=0.5, line_dash="dot", line_color="grey")
fig.update_layout(xaxis_title="sample (dotted: hop boundaries)", height=300,
                  title="the same frames, absolute vs integrated phase")
fig.show()

# %% [markdown]
# ## The GAN stage in miniature
# `gapse train vocoder` trains with the multi-scale mel loss alone until `gan_start_step`, then
# adds a multi-period and a multi-resolution STFT discriminator (hinge loss) and feature
# matching; each step updates the discriminators on the detached output first, then the
# vocoder. A GAN step costs many mel-only steps on a CPU, hence the late start in
# `configs/vocoder/small.yaml`. QUICK mode: a tiny vocoder, a handful of steps.

# %%
import csv
import tempfile
from pathlib import Path

from gapse_core.train.run import run

out = Path(tempfile.mkdtemp(prefix="gapse-nb5-"))
over = {"teacher": "ssl-small", "data.path": str(tutorial.data_dir()), "model.backbone.input_dim": teacher.dim}
over.update({"trainer.steps": 16, "loss.gan_start_step": 8, "trainer.val_every": 16} if tutorial.quick() else
            {"trainer.steps": 400, "loss.gan_start_step": 300, "trainer.val_every": 200, "trainer.progress": False})
final = run("vocoder", tutorial.REPO / "configs" / "vocoder" / "tiny.yaml", out, over, device="cpu")
rows = [r for r in csv.DictReader(open(out / "log.csv")) if r.get("mel")]
fig = go.Figure()
for key in ("mel", "d_loss", "adv", "fm"):
    pts = [(int(r["step"]), float(r[key])) for r in rows if r.get(key)]
    fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], name=key)
fig.update_layout(height=300, xaxis_title="step", yaxis_title="loss")
fig.show()
print("validation (copy-synthesis of held-out speech):", {k: round(v, 3) for k, v in final.items()})

# %% [markdown]
# ## The adapter: the whole generative branch
# Degraded speech -> DeWavLM-Omni -> (phonetic, noisy acoustic) -> adapter -> enhanced acoustic
# -> vocoder. To see what the adapter adds, the vocoder also gets the *noisy* acoustic stream
# directly (no adapter).

# %%
from gapse_core.data.playground import Degradation, degrade
from gapse_core.models.gap_generative import GAPGenerative
from gapse_core.models.ssl import lost_packets

student, _ = load_model("dewavlm-small")
adapter, _ = load_model("adapter-small")
branch = GAPGenerative(student, adapter, vocoder)
noisy, target = degrade(clean16, 16000, Degradation(noise="pink", snr_db=5.0, rt60=0.4, packet_loss=0.1, seed=5))
with torch.no_grad():
    f = student.centred(torch.from_numpy(noisy)[None], lost_packets(torch.from_numpy(noisy)[None]))
    no_adapter = vocoder.synthesize(f.acoustic, len(noisy))[0].numpy()
enhanced = branch.enhance(noisy, 16000)
signals = {"noisy": noisy, "vocoder on DeWavLM's acoustic stream (no adapter)": no_adapter,
           "generative branch (adapter)": enhanced, "target": target}
for name, y in signals.items():
    score = metrics.score(y, 16000, target, use_dnsmos=not tutorial.quick())
    print(f"{name:52s} " + ", ".join(f"{k} {v:.2f}" for k, v in score.items()))
    tutorial.play(y, 16000, name)
spectrograms(signals, 16000).show()

# %% [markdown]
# GAP-URGENet's generative branch (WavLM-Large, 1024-wide adapter and vocoder, 2.5k hours)
# reaches DNSMOS 3.23 and PESQ 2.27 on the URGENT'26 validation set (its Table 1); gapse's is
# thousands of times smaller and trained for an hour on a CPU, so expect far less: its model
# cards give the measured numbers. A generative branch can sound clean while saying slightly
# different things, which is why PESQ and ESTOI fall behind DNSMOS here, and why the papers
# fuse it with the predictive branch (notebook 7).
#
# ## The adapter stage in miniature
# `gapse train adapter` freezes the teacher and DeWavLM-Omni and trains the adapter with MSE to
# the teacher's clean acoustic stream, plus a feature-domain discriminator (adversarial and
# feature matching). QUICK mode: a few steps of a tiny adapter.

# %%
out = Path(tempfile.mkdtemp(prefix="gapse-nb5-ad-"))
over = {"teacher": "ssl-small", "dewavlm": "dewavlm-small", "data.path": str(tutorial.data_dir()),
        "model.backbone.input_dim": teacher.dim}
over.update({"trainer.steps": 16, "loss.gan_start_step": 8, "trainer.val_every": 16} if tutorial.quick() else
            {"trainer.steps": 400, "trainer.val_every": 200, "trainer.progress": False})
final = run("adapter", tutorial.REPO / "configs" / "adapter" / "tiny.yaml", out, over, device="cpu")
print("validation:", {k: round(v, 3) for k, v in final.items()},
      "(mse_noisy_acoustic: the error of using DeWavLM's acoustic stream as it is)")
