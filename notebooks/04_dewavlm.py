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
# # 4 · DeWavLM-Omni: distilling an encoder that hears through distortions, and packet-loss masking
#
# An SSL encoder trained on clean speech gives different representations when the speech is
# noisy. PASE's **representation distillation** fixes the encoder rather than the audio: a
# *student* copy of the frozen *teacher* hears degraded speech and is trained (MSE) to output
# the teacher's representations of the clean speech. GAP-URGENet's **DeWavLM-Omni** does this
# with every URGENT distortion and adds **packet-loss concealment**: a 20 ms packet whose
# samples are (almost) all exact zeros is detected, and its frame is replaced by the same
# learnable mask embedding masked pretraining used (notebook 3), so the student fills the gap
# from context, as it learned to do.
#
# It exposes two streams, each layer-normed: **acoustic** (first transformer layer: detail,
# but still some noise) and **phonetic** (last layer: clean but abstract).

# %%
import numpy as np
import plotly.graph_objects as go
import torch

from gapse_core import tutorial
from gapse_core.audio.io import load
from gapse_core.audio.resample import resample
from gapse_core.data.playground import Degradation, degrade
from gapse_core.models.ssl import centred_frame_mask, centred_input, frames, lost_packets

clean, fs = load(tutorial.examples_dir() / "clean_allison_pink.wav")
clean16 = resample(clean, fs, 16000)[: 16000 * 4]

# %% [markdown]
# ## Detecting lost packets
# The rule (DeWavLM-Omni): a 20 ms packet is lost when at least 99 % of its samples are below
# 1e-7 in magnitude. gapse runs it at the input's own rate (resampling would smear the zeros),
# then maps packets to encoder frames: gapse pads one packet in front so that frame *t* starts
# with packet *t - 1* and is centred 120 samples before sample 320 *t*, which also lines the
# vocoder's output up with the input (notebook 5).

# %%
from gapse_core.data import degrade as D

lossy, truth = D.packet_loss(clean16, 16000, 0.2, np.random.default_rng(1))
found = lost_packets(torch.from_numpy(lossy)[None], 16000)[0].numpy()
x = centred_input(torch.from_numpy(lossy)[None])
mask = centred_frame_mask(torch.from_numpy(found)[None], frames(x.shape[-1]))[0]
print(f"{int(truth.sum())} of {len(truth)} packets zeroed by the simulation; detected {int(found.sum())}: "
      f"all zeroed ones {'found' if found[truth].all() else 'NOT found'}, plus {int((found & ~truth).sum())} "
      f"packets of digital silence already in the clip (the rule cannot tell them apart, and masking them is harmless)")
print(f"{int(mask.sum())} of {len(mask)} encoder frames get the mask embedding")
fig = go.Figure()
fig.add_scatter(x=np.arange(len(lossy)) / 16000, y=lossy, name="waveform", line=dict(width=0.6))
for k in np.flatnonzero(found):
    fig.add_vrect(x0=k * 0.02, x1=(k + 1) * 0.02, fillcolor="red" if truth[k] else "grey", opacity=0.2, line_width=0)
fig.update_layout(height=250, xaxis_title="s", title="detected lost packets (red: zeroed by the simulation, grey: silence)")
fig.show()
tutorial.play(lossy, 16000, "20 % of packets lost")

# %% [markdown]
# ## Teacher versus student on degraded speech
# How far are the representations of degraded speech from the teacher's of the clean speech?
# Per frame: cosine similarity to the clean target, for the teacher (which never learned to
# ignore distortions) and for the shipped DeWavLM-Omni student (`dewavlm-small`), on noise +
# reverberation + packet loss.

# %%
from gapse_core.checkpoints import load_model

teacher, _ = load_model("ssl-small")
student, _ = load_model("dewavlm-small")
degraded, target = degrade(clean16, 16000, Degradation(noise="pink", snr_db=0.0, rt60=0.5, packet_loss=0.1, seed=2))
with torch.no_grad():
    ref = teacher.centred(torch.from_numpy(target)[None])
    lost = lost_packets(torch.from_numpy(degraded)[None], 16000)
    outs = {"teacher hears degraded": teacher.centred(torch.from_numpy(degraded)[None], lost),
            "DeWavLM-Omni hears degraded": student.centred(torch.from_numpy(degraded)[None], lost)}
fig = go.Figure()
for stream in ("acoustic", "phonetic"):
    for name, f in outs.items():
        cos = torch.nn.functional.cosine_similarity(getattr(f, stream)[0], getattr(ref, stream)[0], dim=-1)
        fig.add_scatter(y=cos.numpy(), name=f"{name}: {stream} (mean {cos.mean():.2f})",
                        line=dict(dash="solid" if "DeWavLM" in name else "dot"))
fig.update_layout(height=320, xaxis_title="frame (20 ms)", yaxis_title="cosine similarity to clean")
fig.show()
tutorial.play(degraded, 16000, "degraded input (pink noise 0 dB, reverb, 10 % packets lost)")

# %% [markdown]
# ## Does the mask embedding help?
# The same student, on speech with packet loss only, with the lost frames masked (the
# DeWavLM-Omni way) and without (the encoder just hears silence there). Error against the
# teacher's clean representations, at the lost frames only:

# %%
def load16(name: str) -> np.ndarray:
    w, sr = load(tutorial.examples_dir() / name)
    return resample(w, sr, 16000)


clips = [load16(f) for f in ("clean_allison_pink.wav", "clean_allison_room_wind.wav", "clean_espeak_hum.wav")]
errors = {"masked (mask embedding)": [], "unmasked (hears zeros)": []}
for c in clips:
    for seed in range(3):
        lossy2, truth2 = D.packet_loss(c, 16000, 0.25, np.random.default_rng(seed))
        with torch.no_grad():
            ref = teacher.centred(torch.from_numpy(c)[None])
            lost = lost_packets(torch.from_numpy(lossy2)[None], 16000)
            at = centred_frame_mask(torch.from_numpy(truth2)[None], ref.phonetic.shape[1])[0]
            for label, use in (("masked (mask embedding)", lost), ("unmasked (hears zeros)", None)):
                f = student.centred(torch.from_numpy(lossy2)[None], use)
                errors[label].append(float(((f.phonetic[0] - ref.phonetic[0]) ** 2).mean(-1)[at].mean()))
for label, e in errors.items():
    print(f"{label:26s} phonetic MSE at the lost frames: {np.mean(e):.3f} (3 clips x 3 loss patterns)")

# %% [markdown]
# On gapse's held-out packet-loss set (30 LibriSpeech clips) masking lowers the student's error
# at lost frames from 0.659 to 0.640 (the model card of `dewavlm-small`; the teacher's: 1.325
# to 1.172); on a few clips the difference can go either way: a small encoder conceals only a
# little better than it guesses.

# %% [markdown]
# ## Distillation in miniature
# `gapse train dewavlm` copies the teacher into a trainable student and trains it on
# simulated degraded speech (every distortion). Validation compares the student's error with
# the teacher's own on the same held-out degraded speech: distillation must push below it.
# QUICK mode: a few steps from the shipped teacher on gapse's miniature corpus.

# %%
import csv
import tempfile
from pathlib import Path

from gapse_core.train.run import run

out = Path(tempfile.mkdtemp(prefix="gapse-nb4-"))
over = {"teacher": "ssl-small", "data.path": str(tutorial.data_dir())}
over.update({"trainer.steps": 20, "trainer.val_every": 10, "data.batch_size": 2} if tutorial.quick() else
            {"trainer.steps": 300, "trainer.val_every": 100, "trainer.progress": False})
final = run("dewavlm", tutorial.REPO / "configs" / "dewavlm" / "tiny.yaml", out, over, device="cpu")
val = [r for r in csv.DictReader(open(out / "log.csv")) if r.get("val_mse_phonetic")]
fig = go.Figure()
for key, name in (("val_mse_phonetic", "student: phonetic"), ("val_teacher_mse_phonetic", "teacher: phonetic"),
                  ("val_mse_acoustic", "student: acoustic"), ("val_teacher_mse_acoustic", "teacher: acoustic")):
    fig.add_scatter(x=[int(r["step"]) for r in val], y=[float(r[key]) for r in val], name=name,
                    line=dict(dash="dot" if "teacher" in key else "solid"))
fig.update_layout(height=300, xaxis_title="step", yaxis_title="validation MSE")
fig.show()
