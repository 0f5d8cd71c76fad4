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
# # 3 · The SSL encoder: masked prediction in miniature, and what its layers encode
#
# GAP-URGENet's generative branch starts from **WavLM** (Chen et al., 2022), a speech encoder
# trained without labels: a CNN turns 16 kHz audio into one frame every 20 ms (50 Hz), a
# transformer with gated relative position bias contextualises the frames, and training asks
# it to predict *cluster labels of masked frames* from the unmasked ones (HuBERT's recipe),
# while another utterance is sometimes mixed in (WavLM's denoising twist).
#
# No pretrained WavLM can be downloaded here, so gapse pretrains its own small one with the
# same recipe (`gapse train ssl_pretrain`). The network is `transformers`' `WavLMModel`, so a
# real WavLM a user has on disk loads into the very same class (last section).

# %%
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from gapse_core import tutorial
from gapse_core.audio.io import load
from gapse_core.audio.resample import resample
from gapse_core.models.ssl import SSLConfig, SSLEncoder, frames

sizes = {
    "gapse tiny (tests)": SSLConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, conv_dim=32,
                                    conv_pos_kernel=8, conv_pos_groups=4),
    "gapse ssl-small (shipped)": SSLConfig(),
    "WavLM-Base+": SSLConfig(hidden_size=768, num_layers=12, num_heads=12, intermediate_size=3072, conv_dim=512,
                             conv_pos_kernel=128, conv_pos_groups=16),
}
for name, cfg in sizes.items():
    n = sum(p.numel() for p in SSLEncoder(cfg).parameters())
    print(f"{name:28s} {cfg.num_layers:2d} layers x {cfg.hidden_size:4d}: {n / 1e6:7.2f} M parameters")
print(f"1 s at 16 kHz -> {frames(16000)} frames (stride 320 samples, receptive field 400)")

# %% [markdown]
# ## Step 1: targets from MFCC k-means
# HuBERT's first iteration clusters MFCC frames (13 coefficients + deltas, 25 ms windows at the
# encoder's 20 ms hop). The cluster index of each frame is the "pseudo-phone" the encoder must
# predict. Below, a clip's spectrogram and the cluster sequence under it: stretches of the same
# sound share a cluster.

# %%
from gapse_core.audio.spectrogram import log_spectrogram
from gapse_core.train.ssl_pretrain import MaskedPrediction, MaskedPredictionConfig, mix_utterances, span_mask

clean, fs = load(tutorial.examples_dir() / "clean_allison_pink.wav")
clean16 = resample(clean, fs, 16000)[: 16000 * 4]
others = [resample(load(tutorial.examples_dir() / f)[0], load(tutorial.examples_dir() / f)[1], 16000)
          for f in ("clean_allison_room_wind.wav", "clean_espeak_hum.wav")]
mp = MaskedPrediction(MaskedPredictionConfig(encoder=sizes["gapse tiny (tests)"], n_clusters=16))
mp.fit_targets([clean16] + others)
targets = mp.targets(torch.from_numpy(clean16)[None])[0].numpy()
t, f, db = log_spectrogram(clean16, 16000)
fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.04)
fig.add_trace(go.Heatmap(x=t, y=f, z=db, zmin=db.max() - 80, colorscale="Magma", showscale=False), row=1, col=1)
fig.add_trace(go.Heatmap(x=(np.arange(len(targets)) * 320 + 200) / 16000, y=[0], z=[targets], colorscale="Rainbow",
                         showscale=False), row=2, col=1)
fig.update_layout(height=330, margin=dict(l=40, r=10, t=20, b=30), yaxis2=dict(showticklabels=False, title="cluster"))
fig.show()

# %% [markdown]
# ## Step 2: span masks and utterance mixing
# About half the frames are hidden in spans of 10 (each frame starts a span with probability
# 0.08); the learnable **mask embedding** replaces them before the transformer. With
# probability 0.2 a crop of another utterance is added (energy ratio -5 to 5 dB) while the
# targets stay those of the main utterance, so the encoder learns to follow one speaker.

# %%
gen = torch.Generator().manual_seed(0)
mask = span_mask(1, len(targets), 0.08, 10, gen)[0]
print(f"{mask.float().mean():.0%} of the frames masked")
batch = torch.from_numpy(np.stack([clean16, np.resize(others[0], len(clean16))]))
mixed = mix_utterances(batch, 1.0, np.random.default_rng(3))
tutorial.play(clean16, 16000, "main utterance")
tutorial.play(mixed[0].numpy(), 16000, "after utterance mixing (targets unchanged)")

# %% [markdown]
# ## Step 3: pretraining in miniature
# `gapse train ssl_pretrain` fits the k-means once, then trains with cross-entropy on masked
# frames. Validation reports masked-frame accuracy on held-out speakers beside the accuracy of
# always answering the most frequent cluster: the encoder must beat that to have learned
# anything. QUICK mode runs the tiny config for a few steps; the full mode trains the small
# config for a few minutes (the shipped `ssl-small` had thousands of steps, see its card).

# %%
import csv
import tempfile
from pathlib import Path

from gapse_core.train.run import run

cfg = tutorial.REPO / "configs" / "ssl_pretrain" / ("tiny.yaml" if tutorial.quick() else "small.yaml")
out = Path(tempfile.mkdtemp(prefix="gapse-nb3-"))
over = {"data.path": str(tutorial.data_dir())}
over.update({"trainer.steps": 30, "trainer.val_every": 15} if tutorial.quick() else
            {"trainer.steps": 600, "trainer.val_every": 200, "trainer.progress": False})
final = run("ssl_pretrain", cfg, out, over, device="cpu")
log = list(csv.DictReader(open(out / "log.csv")))
train = [r for r in log if r["loss"]]
fig = go.Figure()
fig.add_scatter(x=[int(r["step"]) for r in train], y=[float(r["acc_masked"]) for r in train],
                name="masked-frame accuracy (training)")
fig.add_hline(y=final["majority"], line_dash="dot", annotation_text="majority class (validation)")
fig.update_layout(height=300, xaxis_title="step", yaxis_title="accuracy")
fig.show()
print({k: round(v, 3) for k, v in final.items()})

# %% [markdown]
# ## What the layers encode
# Two probes (`gapse_core.probe`) on every layer of the shipped `ssl-small` and of the same
# network with random weights:
#
# * **speaker accuracy**: mean-pooled frames of 4 crops per held-out speaker, leave-one-out
#   nearest centroid;
# * **content ratio**: four sentences spoken by four espeak-ng voices; DTW-aligned frame
#   distance between different sentences of one voice, divided by that between one sentence
#   in different voices. Above 1, the layer groups frames by *what* is said.
#
# WavLM's own analysis finds speaker information in the lower layers and content higher up.
# GAP-URGENet reads the **first** transformer layer (detailed "acoustic" representations) and
# the **last** ("phonetic") one.

# %%
from gapse_core.checkpoints import build, load_model, read
from gapse_core.data.synthetic import espeak
from gapse_core.probe import probe_layers

texts = ("The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
         "Rice is often served in round bowls.")
voices = ("en-us", "en-gb-scotland", "en-us+f3")
parallel = {(v, s): espeak(s, 16000, v) for v in voices for s in texts}
speakers = []
for i, (name, w) in enumerate([("allison", clean16), ("room", others[0]), ("espeak", others[1])]):
    n = len(w) // 3
    speakers += [(name, w[j * n:(j + 1) * n]) for j in range(3)]
teacher, _ = load_model("ssl-small")
torch.manual_seed(0)
random_net = build("ssl", read("ssl-small")["config"]).eval()
fig = make_subplots(rows=1, cols=2, subplot_titles=["speaker accuracy", "content ratio"])
for label, enc in (("ssl-small", teacher), ("random weights", random_net)):
    probes = probe_layers(enc, speakers, parallel)
    layers = [p.layer for p in probes]
    fig.add_scatter(x=layers, y=[p.speaker_accuracy for p in probes], name=f"{label}: speaker", row=1, col=1)
    fig.add_scatter(x=layers, y=[p.content_ratio for p in probes], name=f"{label}: content", row=1, col=2)
fig.update_xaxes(title_text="layer (0 = CNN projection)")
fig.update_layout(height=320)
fig.show()

# %% [markdown]
# The held-out probe on real speakers (10 LibriSpeech speakers) is
# `python benchmarks/ssl_probe.py ssl-small --random`; its table is in the ssl-small model card.
#
# ## A real WavLM through the same loader
# A WavLM saved with `save_pretrained` (`config.json` + `model.safetensors`, e.g. WavLM-Base+)
# loads with `checkpoints.load_model(folder)` into the same `SSLEncoder`, and every gapse stage
# takes it as `teacher:`. Here a randomly initialised miniature stands in for it (nothing is
# downloaded).

# %%
from transformers import WavLMConfig, WavLMModel

folder = Path(tempfile.mkdtemp(prefix="gapse-wavlm-")) / "my-wavlm"
WavLMModel(WavLMConfig(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96,
                       conv_dim=(32,) * 7, num_conv_pos_embeddings=16,
                       num_conv_pos_embedding_groups=4)).save_pretrained(folder)
wavlm, meta = load_model(folder)
feats = wavlm(torch.from_numpy(clean16)[None])
print(type(wavlm).__name__, meta, "acoustic", tuple(feats.acoustic.shape), "phonetic", tuple(feats.phonetic.shape))
