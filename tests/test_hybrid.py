"""The hybrid system: its generative branch (SSL-prefixed token LM + LM-conditioned DPRNN mask),
the ``hybrid`` training stage over a frozen SSL encoder and residual-VQ codec, and the systems."""

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY_CODEC, TINY_HYBRID, TINY_RVQ_CODEC
from gapse_core.checkpoints import load_model, save_model
from gapse_core.models.codec import Codec
from gapse_core.models.hybrid_generative import HybridBranch, HybridGenerative
from gapse_core.models.ssl import SSLConfig, SSLEncoder

ROOT = Path(__file__).resolve().parent.parent
TINY_SSL = SSLConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, conv_dim=16,
                     conv_pos_kernel=8, conv_pos_groups=4)


def test_hybrid_stage_learns_first_layer_tokens_and_a_mask(data_dir, tmp_path):
    from gapse_core.train.run import run

    torch.manual_seed(0)
    ssl = save_model(tmp_path / "ssl.pt", SSLEncoder(TINY_SSL), "ssl")
    codec = save_model(tmp_path / "rvq.pt", Codec(TINY_RVQ_CODEC), "codec")
    out = tmp_path / "hy"
    final = run("hybrid", ROOT / "configs" / "hybrid" / "tiny.yaml", out,
                {"ssl": str(ssl), "codec": str(codec), "data.path": str(data_dir), "loss.sampling": 0.3},
                device="cpu")
    rows = [r for r in csv.DictReader(open(out / "log.csv")) if r.get("loss")]
    sampled = [float(r["sampled"]) for r in rows]  # share of inputs swapped for the LM's (wrong) guesses
    assert min(sampled) > 0 and 0.1 < np.mean(sampled) < 0.32  # 0.3 x the share of wrong guesses
    assert float(rows[-1]["nll"]) < float(rows[0]["nll"]) - 0.3  # 16 codes: ln 16 = 2.77 at chance
    assert float(rows[-1]["magnitude"]) < float(rows[0]["magnitude"])
    assert 0 <= final["token_acc"] <= 1 and 0 <= final["token_acc_forced"] <= 1
    assert np.isfinite(final["pesq"]) and np.isfinite(final["si_sdr"])
    model, _ = load_model(out / "model.pt")
    assert isinstance(model, HybridBranch)
    group = save_model(tmp_path / "group.pt", Codec(TINY_CODEC), "codec")
    with pytest.raises(ValueError, match="residual"):
        run("hybrid", ROOT / "configs" / "hybrid" / "tiny.yaml", tmp_path / "hy2",
            {"ssl": str(ssl), "codec": str(group), "data.path": str(data_dir), "trainer.steps": 1}, device="cpu")


def test_scheduled_sampling_feeds_back_the_lms_own_guesses_at_the_set_rate():
    from gapse_core.train.hybrid import HybridStage, HybridStageConfig

    torch.manual_seed(0)
    branch = HybridBranch(TINY_HYBRID).eval()
    feats = torch.randn(4, 300, TINY_HYBRID.lm.ssl_dim)
    tokens = torch.randint(0, TINY_HYBRID.lm.codebook_size, (4, 300))
    stage = HybridStage(HybridStageConfig(model=TINY_HYBRID))
    assert stage._sampled_inputs(branch, feats, tokens) is tokens  # rate 0: plain teacher forcing
    stage.cfg.loss.sampling = 0.5
    inputs = stage._sampled_inputs(branch, feats, tokens)
    guess = branch.lm(feats, tokens)[0].argmax(-1)
    swapped = inputs != tokens
    assert torch.equal(inputs[swapped], guess[swapped])  # every change is the LM's own guess there
    differ = guess != tokens
    assert differ.float().mean() > 0.5  # an untrained LM mostly guesses wrong
    assert 0.42 < swapped[differ].float().mean().item() < 0.58  # half of those were fed back


def test_hybrid_branch_is_a_mask_steered_by_the_lm_at_any_rate():
    """The output is the masked degraded spectrum (so it follows the input's level), at the
    input's rate and length; what the LM hears (the SSL prefix) changes the mask."""
    torch.manual_seed(0)
    ssl, branch = SSLEncoder(TINY_SSL).eval(), HybridBranch(TINY_HYBRID).eval()
    gen = HybridGenerative(ssl, branch)
    rng = np.random.default_rng(0)
    for fs in (8000, 16000, 48000):
        x = (0.05 * rng.standard_normal(int(0.7 * fs) + 13)).astype(np.float32)
        y = gen.enhance(x, fs)
        assert y.shape == x.shape and y.dtype == np.float32 and np.all(np.isfinite(y)) and np.std(y) > 0
        np.testing.assert_allclose(gen.enhance(4 * x, fs), 4 * y, rtol=1e-3, atol=1e-6)
    x = torch.from_numpy(x[:16000])[None]
    feats = gen.features(x)
    assert feats.shape == (1, 16000 // 320 + 1, 16)
    y1, mask1, tokens = branch.enhance_16k(x, feats)
    assert tokens.shape == (1, feats.shape[1]) and int(tokens.max()) < TINY_HYBRID.lm.codebook_size
    assert float(mask1.abs().max()) < 1.0
    with torch.no_grad():  # the mask applied to the input's own spectrum is the output
        spec = branch.mask.stft(x)
        ref = torch.istft(spec * mask1, 512, 256, window=torch.hann_window(512), length=x.shape[-1])
    torch.testing.assert_close(y1, ref, atol=1e-5, rtol=1e-4)
    _, mask2, _ = branch.enhance_16k(x, torch.randn_like(feats))
    assert float((mask1 - mask2).abs().mean()) > 1e-4 * float(mask1.abs().mean())  # exactly 0 without the LM
    with pytest.raises(ValueError, match="expects"):
        HybridGenerative(SSLEncoder(replace(TINY_SSL, hidden_size=32)), branch)


def test_hybrid_systems_return_every_branch_at_the_input_rate(tiny_checkpoint, speech16k, monkeypatch):
    from gapse_core.audio.level import local_level
    from gapse_core.systems import Enhancer

    monkeypatch.setenv("GAPSE_CHECKPOINTS", str(tiny_checkpoint.parent))
    x = (speech16k[:20000] + 0.01 * np.random.default_rng(1).standard_normal(20000)).astype(np.float32)
    alone = Enhancer("hybrid-generative", device="cpu").enhance(x, 16000)
    assert set(alone.branches) == {"generative"} and alone.final is alone.branches["generative"]
    folder = tiny_checkpoint.parent
    direct = HybridGenerative(load_model(folder / "dewavlm-small.pt")[0], load_model(folder / "hybrid-small.pt")[0])
    level = local_level(x, 16000)  # the Enhancer runs every stage on each stretch at its own level
    np.testing.assert_allclose(alone.final, direct.enhance(x / level, 16000) * level, atol=1e-5)
    hybrid = Enhancer("hybrid", device="cpu")
    for fs in (8000, 16000, 48000):
        xs = np.resize(x, int(1.2 * fs)).astype(np.float32)
        res = hybrid.enhance(xs, fs)
        assert set(res.branches) == {"predictive", "generative"} and res.final is res.fused
        assert len(res.final) == len(xs) and res.mask is not None and "fusion" in res.timings
