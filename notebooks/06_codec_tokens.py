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
# # 6 · Codec tokens: group vs residual VQ, and ParaGSE's parallel prediction
#
# The token branches treat enhancement as *choosing discrete codes*: a neural codec turns
# speech into a few streams of tokens at 50 Hz, a predictor picks the clean speech's tokens
# from the degraded speech, and the codec's decoder turns them back into a waveform.
#
# * **ParaGSE** uses a **group-VQ** codec: the latent vector of a frame is cut into `G`
#   slices, each quantized by its own codebook. The groups are independent, so a predictor can
#   choose all of them **in one parallel pass** (one head per group).
# * The **hybrid** system's generative branch uses the first layer of a **residual-VQ** codec
#   (X-Codec style): layer 2 codes what layer 1 missed, and so on. Its tokens are predicted by
#   an autoregressive LM, one 20 ms step after another.
#
# This notebook opens the shipped codec (`codec-small`: 4 groups x 256 codes = 1.6 kbit/s),
# compares the two quantizers, runs ParaGSE on a noisy clip, times parallel against serial
# and autoregressive prediction, and trains both stages in miniature.

# %%
import time

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from gapse_core import metrics, tutorial
from gapse_core.audio.io import load
from gapse_core.audio.level import level_gain, normalise
from gapse_core.audio.resample import resample
from gapse_core.checkpoints import load_model

clean, fs = load(tutorial.examples_dir() / "clean_allison_pink.wav")
clean16 = normalise(resample(clean, fs, 16000)[: 16000 * 4])  # the codec's working level (RMS 0.1)
codec, cmeta = load_model("codec-small")
print(f"codec-small: {sum(p.numel() for p in codec.parameters()):,} parameters, {codec.cfg.quantizer.kind} VQ, "
      f"{codec.cfg.quantizer.streams} streams x {codec.cfg.quantizer.codebook_size} codes at "
      f"{codec.frame_rate:g} Hz = {codec.bitrate / 1000:g} kbit/s; trained {cmeta.get('steps')} steps")

# %% [markdown]
# ## Speech as tokens
# 80-sample frames (5 ms) -> Vocos encoder -> a stride-8 convolution -> one 32-dim latent per
# 20 ms -> 4 groups of 8 dims, each replaced by the nearest of its 256 code vectors. The
# picture shows the four token streams of the clip; the decoder (a Vocos backbone and an iSTFT
# head, the same blocks as the vocoder of notebook 5) resynthesises from them alone.

# %%
with torch.inference_mode():
    x = torch.from_numpy(clean16)[None]
    codes = codec.tokens(x)  # [1, T, G]
    copy = codec.decode(codes, x.shape[-1])[0].numpy()
fig = go.Figure(go.Heatmap(z=codes[0].T.numpy(), colorscale="Viridis", colorbar=dict(title="code")))
fig.update_layout(height=220, xaxis_title="token frame (20 ms)", yaxis_title="group", margin=dict(t=20, b=40))
fig.show()
print(f"{codes.shape[1]} frames x {codes.shape[2]} groups; PESQ-WB {metrics.pesq_wb(copy, clean16, 16000):.2f}, "
      f"ESTOI {metrics.estoi(copy, clean16, 16000):.2f} (codec round trip of a clip it never saw)")
tutorial.play(clean16, 16000, "clean")
tutorial.play(copy, 16000, f"codec copy-synthesis at {codec.bitrate / 1000:g} kbit/s")

# %% [markdown]
# ## Group VQ vs residual VQ
# Both quantizers come from `vector-quantize-pytorch` behind one interface (`codes [B, T,
# streams]`, `decode`, `bitrate`). The difference that matters for prediction:
#
# * **group**: changing the token of group 2 changes only group 2's slice of the latent, so
#   each group can be predicted on its own;
# * **residual**: every layer refines the sum of the layers before it, so the first layer
#   alone is a coarse version of everything, and later layers depend on earlier ones.

# %%
from gapse_core.nn.quantizers import Quantizer, QuantizerConfig

torch.manual_seed(0)
z = torch.randn(4, 400, 16)  # stand-in latents: 4 clips x 400 frames x 16 dims
group = Quantizer(QuantizerConfig(kind="group", dim=16, streams=4, codebook_size=64, cosine=False))
residual = Quantizer(QuantizerConfig(kind="residual", dim=16, streams=4, codebook_size=64, cosine=False))
for _ in range(30):  # the EMA codebooks move onto the data as batches pass
    group(z), residual(z)
group.eval(), residual.eval()
with torch.no_grad():
    g, r = group(z), residual(z)
    changed = g.codes.clone()
    changed[..., 2] = (changed[..., 2] + 1) % 64
    per_dim = (group.decode(changed) - g.quantized).abs().mean((0, 1))
    partial = torch.zeros_like(z)
    layer_err = []
    for k, layer in enumerate(residual.vq.layers):
        partial = partial + layer.get_output_from_indices(r.codes[..., k])
        layer_err.append(float((z - partial).pow(2).mean()))
fig = make_subplots(rows=1, cols=2, subplot_titles=("group VQ: change group 2's token", "residual VQ: error after k layers"))
fig.add_bar(x=list(range(16)), y=per_dim.numpy(), row=1, col=1, name="|change| per latent dim")
fig.add_scatter(x=[1, 2, 3, 4], y=layer_err, row=1, col=2, name="MSE")
fig.update_xaxes(title_text="latent dimension", row=1, col=1)
fig.update_xaxes(title_text="layers used", row=1, col=2)
fig.update_layout(height=300, showlegend=False, margin=dict(t=40, b=40))
fig.show()
print(f"both at {group.bitrate(50):g} bit/s; latent MSE: group {float((z - g.quantized).pow(2).mean()):.3f}, "
      f"residual {float((z - r.quantized).pow(2).mean()):.3f}")

# %% [markdown]
# ## ParaGSE on a noisy clip
# The predictor encodes the degraded spectrum once (convs -> BiLSTM -> Conformer) and gives
# every group its own head, fed with the shared features and the degraded token of that group.
# The plot compares, frame by frame, the degraded speech's tokens and the predicted tokens with
# the clean speech's tokens: where the noise changed a token, the predictor must choose it back.

# %%
from gapse_core.data.playground import Degradation, degrade
from gapse_core.models.paragse_generative import ParaGSEGenerative

predictor, pmeta = load_model("paragse-small")
branch = ParaGSEGenerative(codec, predictor)
noisy, target = degrade(clean16, 16000, Degradation(noise="pink", snr_db=5.0, seed=3))
g = level_gain(noisy, floor=1e-4)  # the branch's own level gain (audio/level.py)
with torch.inference_mode():
    xn, xc = torch.from_numpy(noisy * g)[None], torch.from_numpy(target * g)[None]
    noisy_codes, clean_codes = codec.tokens(xn), codec.tokens(xc)
    predicted = predictor.predict(xn, noisy_codes)
acc_noisy = (noisy_codes == clean_codes).float().mean(1)[0]
acc_pred = (predicted == clean_codes).float().mean(1)[0]
fig = go.Figure()
fig.add_bar(x=[f"group {i}" for i in range(len(acc_pred))], y=acc_noisy.numpy(), name="degraded tokens = clean")
fig.add_bar(x=[f"group {i}" for i in range(len(acc_pred))], y=acc_pred.numpy(), name="predicted tokens = clean")
fig.update_layout(height=280, yaxis_title="fraction of frames", barmode="group", margin=dict(t=20, b=40))
fig.show()
enhanced = branch.enhance(noisy, 16000)
signals = {"noisy": noisy, "ParaGSE": enhanced, "target": target}
for name, y in signals.items():
    score = metrics.score(y, 16000, target, use_dnsmos=not tutorial.quick())
    print(f"{name:10s} " + ", ".join(f"{k} {v:.2f}" for k, v in score.items()))
    tutorial.play(y, 16000, name)
tutorial.spectrograms(signals, 16000).show()

# %% [markdown]
# Exact token accuracy is a harsh measure: a neighbouring code often sounds almost the same,
# which is why the ParaGSE paper reports speech quality (DNSMOS, NISQA, speaker similarity),
# not token accuracy. Its predictor (a 24 kbit/s-class codec, 6 k hours) reaches DNSMOS OVRL
# about 3.3 on its test sets; gapse's is orders of magnitude smaller, so its model card gives
# the numbers it measured on held-out speakers.
#
# ## Parallel, serial, autoregressive: timed
# The same predictor run two ways (all groups in one pass, or one full pass per group, as a
# serial approach must), and the hybrid's LLaMA-style token LM (the shipped `hybrid-small`'s),
# which must emit one token per 20 ms step with its KV cache. Same audio length for all three;
# the codec and the SSL encoder are left out (they cost the same for every method).
# `benchmarks/token_speed.py` is the full benchmark.

# %%
seconds = 2.0 if tutorial.quick() else 10.0
n = int(seconds * 16000)
t = codec.n_tokens(n)
wave = torch.randn(1, n) * 0.1
codes = torch.randint(0, predictor.cfg.codebook_size, (1, t, predictor.cfg.streams))
lm = load_model("hybrid-small")[0].lm  # the shipped hybrid branch's LM (see below)
ssl_feats = torch.randn(1, t, lm.cfg.ssl_dim)


def timed(fn) -> float:
    fn()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


with torch.inference_mode():
    times = {"ParaGSE parallel": timed(lambda: predictor.predict(wave, codes, "parallel")),
             "ParaGSE serial": timed(lambda: predictor.predict(wave, codes, "serial")),
             "autoregressive LM": timed(lambda: lm.generate(ssl_feats))}
fig = go.Figure(go.Bar(x=list(times), y=list(times.values())))
fig.update_layout(height=260, yaxis_title=f"seconds for {seconds:g} s of audio", margin=dict(t=20, b=40))
fig.show()
print(", ".join(f"{k} {v:.3f} s ({v / times['ParaGSE parallel']:.1f}x)" for k, v in times.items()))

# %% [markdown]
# ## Both stages in miniature
# `gapse train codec` trains the codec (mel + commitment losses, then the multi-period and
# multi-resolution discriminators of notebook 5); `gapse train paragse` freezes it and trains
# the predictor with one cross-entropy per group on simulated degraded speech. QUICK mode: tiny
# models and a handful of steps.

# %%
import csv
import tempfile
from pathlib import Path

from gapse_core.train.run import run

out = Path(tempfile.mkdtemp(prefix="gapse-nb6-"))
data = str(tutorial.data_dir())
steps = {"trainer.steps": 12, "trainer.val_every": 12, "loss.gan_start_step": 8} if tutorial.quick() else \
    {"trainer.steps": 400, "trainer.val_every": 200, "loss.gan_start_step": 300}
final = run("codec", tutorial.REPO / "configs" / "codec" / "tiny.yaml", out / "codec",
            {"data.path": data, **steps}, device="cpu")
print("codec validation:", {k: round(v, 3) for k, v in final.items()})
steps = {"trainer.steps": 12, "trainer.val_every": 12} if tutorial.quick() else \
    {"trainer.steps": 400, "trainer.val_every": 200}
final = run("paragse", tutorial.REPO / "configs" / "paragse" / "tiny.yaml", out / "paragse",
            {"data.path": data, "codec": str(out / "codec" / "model.pt"), **steps}, device="cpu")
rows = [r for r in csv.DictReader(open(out / "paragse" / "log.csv")) if r.get("loss")]
fig = go.Figure(go.Scatter(x=[int(r["step"]) for r in rows], y=[float(r["loss"]) for r in rows]))
fig.update_layout(height=260, xaxis_title="step", yaxis_title="cross-entropy (nats)", margin=dict(t=20, b=40))
fig.show()
print("ParaGSE validation:", {k: round(v, 3) for k, v in final.items()},
      "(copy_acc: how often the degraded token already was the clean one)")

# %% [markdown]
# ## A decoder for the tokens the predictor gives
# The codec's decoder was trained on the tokens of *clean* speech, and a small predictor gets
# most tokens wrong: it hands the decoder sequences no speech encoder would produce.
# `gapse train paragse_decoder` keeps the codec's token path exactly (encoder, codebooks: the
# predictor's targets do not move) and trains only the decoder, half of each batch on the
# frozen predictor's tokens of degraded speech and half on the clean tokens, both scored
# against the clean speech. Its validation runs the `paragse` system itself (`pesq`, `ovrl`)
# beside the codec's copy-synthesis (`copy_pesq`, `copy_ovrl`). The result is a `codec`
# checkpoint with the same tokens.

# %%
steps_d = {"trainer.steps": 8, "trainer.val_every": 8} if tutorial.quick() else \
    {"trainer.steps": 300, "trainer.val_every": 150}
final = run("paragse_decoder", tutorial.REPO / "configs" / "paragse" / "decoder-tiny.yaml", out / "decoder",
            {"data.path": data, "codec": str(out / "codec" / "model.pt"),
             "predictor": str(out / "paragse" / "model.pt"), **steps_d}, device="cpu")
print("adapted decoder validation:", {k: round(v, 3) for k, v in final.items()})

# %% [markdown]
# ## The hybrid's generative branch in miniature
# The hybrid system predicts only the **first layer** of a **residual-VQ** codec, and it never
# decodes those tokens: the LM's job is to *understand* the degraded speech well enough to
# predict them, and its last hidden states steer a DPRNN that masks the degraded spectrum
# (`gapse_core/models/hybrid_generative.py`). `gapse train hybrid` freezes the SSL encoder
# (DeWavLM-Omni, notebook 4) and the codec, and trains the LM and the DPRNN together: NLL of
# the tokens + 0.1 complex MSE + 0.9 magnitude MSE (the paper's weights; its 0.01 PMSQE term
# is left out). Below: a residual-VQ version of the tiny codec, then the hybrid stage over it
# and the shipped DeWavLM.

# %%
final = run("codec", tutorial.REPO / "configs" / "codec" / "tiny.yaml", out / "rvq",
            {"data.path": data, "model.quantizer.kind": "residual", **{**steps, "loss.gan_start_step": 10**6}},
            device="cpu")
dewavlm = load_model("dewavlm-small")[0]
steps_h = {"trainer.steps": 12, "trainer.val_every": 12} if tutorial.quick() else \
    {"trainer.steps": 300, "trainer.val_every": 150}
final = run("hybrid", tutorial.REPO / "configs" / "hybrid" / "tiny.yaml", out / "hybrid",
            {"data.path": data, "ssl": "dewavlm-small", "codec": str(out / "rvq" / "model.pt"),
             "model.lm.ssl_dim": dewavlm.dim, **steps_h}, device="cpu")
rows = [r for r in csv.DictReader(open(out / "hybrid" / "log.csv")) if r.get("loss")]
fig = make_subplots(rows=1, cols=2, subplot_titles=["token NLL (nats)", "compressed magnitude MSE"])
fig.add_trace(go.Scatter(x=[int(r["step"]) for r in rows], y=[float(r["nll"]) for r in rows]), 1, 1)
fig.add_trace(go.Scatter(x=[int(r["step"]) for r in rows], y=[float(r["magnitude"]) for r in rows]), 1, 2)
fig.update_layout(height=260, showlegend=False, margin=dict(t=30, b=40))
fig.show()
print("hybrid validation:", {k: round(v, 3) for k, v in final.items()},
      "(token_acc: greedy decoding, as at inference; token_acc_forced: with the true previous tokens)")
