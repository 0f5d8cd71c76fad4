"""Mask fusion, the PostNet, the learned quality predictor, the branch cache and the fused systems."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY_FUSION, TINY_POSTNET, TINY_QUALITY
from gapse_core import metrics
from gapse_core.models.mask_fusion import MaskFusion


def tone(freq: float, fs: int, seconds: float = 1.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def band_energy(x: np.ndarray, fs: int, freq: float) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    bins = np.fft.rfftfreq(len(x), 1 / fs)
    return float(spec[np.abs(bins - freq) < 40].max())


def band(x: np.ndarray, fs: int, lo: float, hi: float, gain: float = 0.0) -> np.ndarray:
    """``x`` (``[..., n]``) with only the band [lo, hi) kept (``gain`` 0), or that band times ``gain``."""
    spec = np.fft.rfft(x, axis=-1)
    f = np.fft.rfftfreq(x.shape[-1], 1 / fs)
    inside = (f >= lo) & (f < hi)
    spec[..., inside if gain else ~inside] *= gain
    return np.fft.irfft(spec, n=x.shape[-1], axis=-1).astype(np.float32)


def forced_fusion(bias: float) -> MaskFusion:
    """A fusion network whose mask is sigmoid(bias) everywhere below 8 kHz."""
    model = MaskFusion(TINY_FUSION)
    with torch.no_grad():
        model.net.head.weight.zero_()
        model.net.head.bias.fill_(bias)
    return model.eval()


@pytest.mark.parametrize("fs", [8000, 16000, 48000])
def test_mask_one_keeps_predictive_and_mask_zero_takes_generative_below_its_band(fs):
    # predictive: 1 kHz (+ 3.5 kHz which every rate has); generative: 2.5 kHz; at 48 kHz the
    # predictive branch also has 12 kHz, which the generative band (8 kHz) cannot replace
    pred = tone(1000, fs) + tone(3500, fs)
    if fs == 48000:
        pred = pred + tone(12000, fs)
    gen = tone(2500, fs)
    noisy = pred + gen
    args = [torch.from_numpy(a)[None] for a in (noisy, pred, gen)]
    with torch.no_grad():
        keep, m1 = forced_fusion(30.0)(*args, fs)
        take, m0 = forced_fusion(-30.0)(*args, fs)
    keep, take = keep[0].numpy(), take[0].numpy()
    assert keep.shape == take.shape == pred.shape
    assert metrics.si_sdr(keep, pred) > 40  # M = 1: exactly the predictive branch
    assert m1.shape[1] == MaskFusion(TINY_FUSION).stft.n_bins(fs)
    assert band_energy(take, fs, 2500) > 20 * band_energy(take, fs, 1000)  # M = 0: the generative branch
    assert float(m0[0, : forced_fusion(0).low_bins(fs)].max()) < 1e-6
    if fs == 48000:  # above 8 kHz the predictive branch stays, whatever the network says
        assert band_energy(take, fs, 12000) > 0.8 * band_energy(pred, fs, 12000)
        assert float(m0[0, forced_fusion(0).low_bins(fs):].min()) == 1.0
    else:
        assert metrics.si_sdr(take, gen) > 30


def test_mask_smoothing_removes_a_comb_of_period_4_and_2_and_keeps_a_slow_shape():
    """``smooth_bins 5`` ([1, 2, 2, 2, 1] / 8 over frequency) nulls exactly the periods a 4-bin
    block network draws, keeps the mean, a linear ramp and a constant, and stays within [0, 1]."""
    from dataclasses import replace

    model = MaskFusion(replace(TINY_FUSION, smooth_bins=5))
    f = torch.arange(64.0)
    ramp = 0.2 + 0.6 * f / 63
    comb = 0.15 * torch.cos(torch.pi * f / 2) + 0.05 * torch.cos(torch.pi * f)
    mask = (ramp + comb)[None, :, None].repeat(2, 1, 3)  # [B, F, T]
    out = model.smooth(mask)
    assert out.shape == mask.shape
    assert torch.allclose(out[0, 2:-2, 0], ramp[2:-2], atol=1e-6)  # the comb gone, the ramp kept
    assert torch.allclose(model.smooth(torch.full_like(mask, 0.7)), torch.full_like(mask, 0.7))
    assert torch.allclose(MaskFusion(TINY_FUSION).smooth(mask), mask)  # smooth_bins 1: untouched
    extreme = (torch.rand(1, 64, 5) > 0.5).float()
    assert 0.0 <= float(model.smooth(extreme).min()) and float(model.smooth(extreme).max()) <= 1.0
    with pytest.raises(ValueError, match="smooth_bins"):
        MaskFusion(replace(TINY_FUSION, smooth_bins=3))


def test_mixing_on_the_predictive_phase_does_not_cancel_opposite_phases():
    """Two branches with the same tone in opposite phase: Eq. 1 at M = 0.5 cancels it; the
    predictive-phase variant keeps its full level."""
    from dataclasses import replace

    fs = 16000
    pred = tone(1000, fs)
    gen = -pred
    args = [torch.from_numpy(a)[None] for a in (pred, pred, gen)]
    half = {}
    for phase in ("own", "predictive"):
        model = MaskFusion(replace(TINY_FUSION, gen_phase=phase)).eval()
        with torch.no_grad():
            model.net.head.weight.zero_()
            model.net.head.bias.zero_()  # M = 0.5
            half[phase] = model(*args, fs)[0][0].numpy()
    core = slice(fs // 10, -fs // 10)
    assert np.abs(half["own"][core]).max() < 1e-3
    assert metrics.si_sdr(half["predictive"], pred) > 30 and abs(half["predictive"][core].std() / pred[core].std() - 1) < 0.01
    with pytest.raises(ValueError, match="gen_phase"):
        MaskFusion(replace(TINY_FUSION, gen_phase="noisy"))


@pytest.mark.parametrize("features", ["complex", "logmag"])
def test_fusion_mask_is_learned_from_where_each_branch_is_right(features):
    """Fit the network to pick the predictive branch below 2 kHz and the generative one above."""
    from dataclasses import replace

    torch.manual_seed(0)
    fs = 16000
    rng = np.random.default_rng(0)
    model = MaskFusion(replace(TINY_FUSION, features=features))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    stft = model.stft
    for _ in range(60):
        clean = torch.from_numpy(rng.standard_normal((2, fs // 2)).astype(np.float32)) * 0.1
        spec = stft.stft(clean, fs)
        lowpass = torch.zeros(spec.shape[1], 1)
        lowpass[: int(2000 * stft.n_fft(fs) / fs)] = 1
        noise = torch.from_numpy(rng.standard_normal((2, fs // 2)).astype(np.float32)) * 0.1
        nspec = stft.stft(noise, fs)
        pred = stft.istft(spec + (1 - lowpass) * nspec, fs, fs // 2)  # right below 2 kHz
        gen = stft.istft(spec + lowpass * nspec, fs, fs // 2)  # right above
        fused, mask = model(clean + noise, pred, gen, fs)
        loss = (fused - clean).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    m = mask.detach()[0].mean(-1)
    cut = int(2000 * stft.n_fft(fs) / fs)
    assert float(m[2:cut - 2].mean()) > 0.8 and float(m[cut + 2: model.low_bins(fs)].mean()) < 0.2


def test_logmag_fusion_features_ignore_the_level_and_see_phase_agreement():
    from dataclasses import replace

    fs = 16000
    model = MaskFusion(replace(TINY_FUSION, features="logmag"))
    rng = np.random.default_rng(1)
    noisy, pred = (torch.from_numpy(rng.standard_normal((1, fs // 4)).astype(np.float32)) for _ in range(2))
    specs = [model.stft.stft(x, fs) for x in (noisy, pred, -pred)]  # generative = predictive in opposite phase
    scale = noisy.std(-1, keepdim=True)
    feats = model.features(specs, scale)
    assert feats.shape == (1, 6, specs[0].shape[1], specs[0].shape[2])
    louder = model.features([10 * s for s in specs], 10 * scale)  # the same clip 20 dB louder
    assert torch.allclose(feats, louder, atol=1e-3)
    assert torch.allclose(feats[:, 1], feats[:, 2])  # same magnitudes
    assert float(feats[:, 3].mean()) < -0.99  # cos(phase_pred - phase_gen) = -1
    with pytest.raises(ValueError, match="features"):
        MaskFusion(replace(TINY_FUSION, features="mel"))


def test_postnet_bands_put_back_together_and_start_as_the_predictive_branch():
    from gapse_core.models.postnet import PostNet

    torch.manual_seed(0)
    model = PostNet(TINY_POSTNET).eval()
    spec = torch.randn(2, 769, 7, dtype=torch.complex64)
    bands = model.split(spec)
    assert bands.shape == (2, 6, 7, 257)  # 3 bands x (real, imag), 257 bins each (0-8, 8-16, 16-24 kHz)
    assert torch.allclose(model.merge(bands), spec)
    assert torch.equal(bands[:, 1, :, -1], spec[:, 256].imag) and torch.equal(bands[:, 3, :, 0], spec[:, 256].imag)
    pred, gen = torch.randn(2, 48000) * 0.1, torch.randn(2, 48000) * 0.1
    with torch.no_grad():
        assert float((model(pred, gen) - pred).abs().max()) < 1e-4  # zero head: the identity on pred


def test_postnet_changes_only_the_band_it_learned_and_keeps_the_rest_of_the_predictive_branch():
    from gapse_core.models.postnet import PostNet

    torch.manual_seed(0)
    model = PostNet(TINY_POSTNET).eval()
    torch.nn.init.normal_(model.net.head.weight, std=0.5)
    fs = 48000
    pred = torch.from_numpy(tone(3000, fs) + tone(12000, fs) + tone(20000, fs))[None]
    gen = torch.from_numpy(tone(5000, fs))[None]
    with torch.no_grad():
        y = model(pred, gen)[0].numpy()
    p = pred[0].numpy()
    for f in (12000, 20000):  # above restore_hz (8 kHz): the predictive branch, untouched
        assert abs(band_energy(y, fs, f) / band_energy(p, fs, f) - 1) < 0.02
    diff = np.abs(np.fft.rfft(y - p))
    f = np.fft.rfftfreq(len(p), 1 / fs)
    assert diff[f < 7500].mean() > 100 * diff[f > 8500].mean()  # below: the network's; above: nothing


def test_postnet_learns_to_restore_a_missing_band_from_the_generative_branch():
    """The predictive branch lacks 4-8 kHz (band-limited input); the generative one has it."""
    from gapse_core.models.postnet import PostNet
    from gapse_core.audio.resample import resample

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    fs = 48000
    model = PostNet(TINY_POSTNET)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def example() -> tuple[torch.Tensor, ...]:
        clean = band(rng.standard_normal((2, fs // 2)) * 0.1, fs, 0, 8000)
        gen = clean + band(rng.standard_normal((2, fs // 2)) * 0.01, fs, 0, 8000)
        return tuple(torch.from_numpy(a) for a in (clean, band(clean, fs, 0, 4000), gen))

    for _ in range(60):
        clean, pred, gen = example()
        loss = (model(pred, gen) - clean).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    clean, pred, gen = example()
    with torch.no_grad():
        y = model(pred, gen).numpy()
    missing = float(np.mean(band(clean.numpy(), fs, 4000, 8000) ** 2))
    err = float(np.mean(band(y - clean.numpy(), fs, 4000, 8000) ** 2))
    assert err < 0.3 * missing  # most of the lost band is back
    assert float(np.mean(band(y, fs, 8000, 24000) ** 2)) < 1e-3 * missing  # and nothing is invented above 8 kHz
    from gapse_core import metrics

    y16, c16, p16 = (resample(a[0], fs, 16000) for a in (y, clean.numpy(), pred.numpy()))
    assert metrics.lsd(y16, c16, 16000) < metrics.lsd(p16, c16, 16000) - 3.0


@pytest.mark.parametrize("front", ["mel", "linear-conv2d"])
def test_quality_predictor_is_differentiable_and_hears_level(front):
    from dataclasses import replace

    from gapse_core.models.quality import QualityPredictor

    torch.manual_seed(0)
    cfg = TINY_QUALITY if front == "mel" else replace(TINY_QUALITY, n_mels=0, conv2d_channels=4, conv2d_layers=3)
    model = QualityPredictor(cfg)
    if front != "mel":  # 257 linear bins halved three times -> 33, times 4 channels, into the 1-D stack
        assert model.inp.in_channels == 33 * 4
    x = torch.randn(2, 16000, requires_grad=True)
    out = model(x * 0.1)
    assert out.shape == (2, 3)
    out[:, 0].sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    with torch.no_grad():
        assert not torch.allclose(model(x * 0.1), model(x * 0.01))  # no level normalisation


@pytest.fixture(scope="module")
def tiny_cache(data_dir, tiny_checkpoint, tmp_path_factory, monkeypatch_module):
    """A branch cache of the tiny random branches on the miniature corpus (DNSMOS-scored)."""
    from gapse_core.train.branch_cache import BranchCacheConfig, build

    monkeypatch_module.setenv("GAPSE_CHECKPOINTS", str(tiny_checkpoint.parent))
    cfg = BranchCacheConfig(path=str(data_dir), dir=str(tmp_path_factory.mktemp("cache")),
                            systems=("predictive", "paragse"), train_examples=6, val_examples=2, seconds=2.3, chunk=4)
    for split in ("train", "val"):
        build(cfg, split, progress=False)
    return cfg


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_branch_cache_holds_branch_outputs_and_their_dnsmos(tiny_cache, tiny_checkpoint):
    from gapse_core.systems import Enhancer
    from gapse_core.train.branch_cache import build, load, signal_names, split_dir

    cache = load(tiny_cache, "train", build_missing=False)
    assert signal_names(tiny_cache) == ("noisy", "clean", "predictive", "paragse")
    assert cache["noisy"].shape == (6, int(2.3 * 16000)) and cache["dnsmos"].shape == (6, 4, 3)
    assert len(list(split_dir(tiny_cache, "train").glob("chunk-*.npz"))) == 2  # 4 + 2 examples
    # the cached output is what the system makes of the cached input, and the score is DNSMOS's
    y = Enhancer("predictive", device="cpu").enhance(cache["noisy"][3].astype(np.float32), 16000).final
    assert np.abs(y - cache["predictive"][3].astype(np.float32)).max() < 2e-3
    assert abs(metrics.dnsmos(cache["clean"][3].astype(np.float32), 16000)["ovrl"] - cache["dnsmos"][3, 1, 0]) < 0.05
    # a resumed build makes only what is missing; the same examples come back
    first = split_dir(tiny_cache, "train") / "chunk-00001.npz"
    before = np.load(first)["noisy"]
    first.unlink()
    build(tiny_cache, "train", progress=False)
    assert np.array_equal(np.load(first)["noisy"], before)


def test_quality_stage_adds_branch_free_examples_that_repeat_none_of_the_cache(tiny_cache):
    from dataclasses import replace

    from gapse_core.train.branch_cache import load
    from gapse_core.train.quality import QualityDataConfig, QualityStage, QualityStageConfig, extra_cache

    cfg = QualityStageConfig(cache=tiny_cache, data=QualityDataConfig(extra_examples=3))
    base = QualityStage(replace(cfg, data=QualityDataConfig())).training_clips()
    waves, scores = QualityStage(cfg).training_clips()  # builds the extra cache beside the first
    assert len(base[0]) == 6 * 4 and len(waves) == 6 * 4 + 3 * 2  # 4 signals per cached example, 2 per extra
    assert np.array_equal(waves[:24], base[0]) and np.array_equal(scores[:24], base[1])
    extra = load(extra_cache(cfg), "train", build_missing=False)
    assert set(extra) == {"noisy", "clean", "dnsmos", "distortions"}  # no branch ran
    assert extra["dnsmos"].shape == (3, 2, 3) and np.all((extra["dnsmos"] > 1) & (extra["dnsmos"] < 5))
    first = load(tiny_cache, "train", build_missing=False)["clean"]
    assert not any(np.array_equal(a, b) for a in extra["clean"] for b in first)  # another seed: new examples


def test_quality_and_fusion_stages_train_from_the_cache(tiny_cache, tmp_path):
    from gapse_core.checkpoints import load_model
    from gapse_core.config import to_dict
    from gapse_core.train.run import run

    configs = Path(__file__).resolve().parent.parent / "configs"
    common = {"cache": to_dict(tiny_cache), "trainer.steps": 40, "trainer.val_every": 40, "trainer.log_every": 10,
              "trainer.progress": False, "optim.warmup_steps": 5}
    val = run("quality", configs / "quality" / "tiny.yaml", tmp_path / "quality", common, device="cpu")
    assert set(val) >= {"r_ovrl", "r_sig", "r_bak", "mae_ovrl"}
    import csv

    rows = [r for r in csv.DictReader(open(tmp_path / "quality" / "log.csv")) if r.get("mse_ovrl")]
    assert float(rows[-1]["mse_ovrl"]) < 0.5 * float(rows[0]["mse_ovrl"])  # it learns the teacher's scores
    quality, _ = load_model(tmp_path / "quality" / "model.pt")
    assert type(quality).__name__ == "QualityPredictor"

    f = {"loss.quality": str(tmp_path / "quality" / "model.pt"), **common}
    val = run("fusion", configs / "fusion" / "tiny.yaml", tmp_path / "fusion", f, device="cpu")
    assert {"pesq", "ovrl", "pesq_pred", "pesq_gen", "ovrl_pred", "ovrl_gen", "mask"} <= set(val)
    assert 0.0 < val["mask"] < 1.0
    from gapse_core.checkpoints import read

    assert read(tmp_path / "fusion" / "model.pt")["kind"] == "mask_fusion"
    assert type(load_model(tmp_path / "fusion" / "model.pt")[0]).__name__ == "MaskFusion"
    rows = [r for r in csv.DictReader(open(tmp_path / "fusion" / "log.csv")) if r.get("sqa_ovrl")]
    assert len(rows) == 4 and all(1.0 < float(r["sqa_ovrl"]) < 5.0 for r in rows)  # the SQA term, every step


def test_missing_band_is_what_a_band_limit_removed_and_there_only_the_magnitude_is_scored():
    """``loss.missing_band_db``: 4-8 kHz of a 4 kHz band-limited input is found missing (noise is
    not), and a wrong phase there costs nothing in the complex term, a wrong magnitude still does."""
    from gapse_core.audio.stft import SFISTFT
    from gapse_core.losses import compressed_spectral_loss, missing_band

    fs = 48000
    rng = np.random.default_rng(0)

    clean = band(0.1 * rng.standard_normal(fs), fs, 0, 8000)  # the cache's speech: nothing above 8 kHz
    limited = band(clean, fs, 0, 4000)
    noisy = clean + band(0.05 * rng.standard_normal(fs), fs, 0, 8000)
    stft = SFISTFT()
    spec = {k: stft.stft(torch.from_numpy(x)[None], fs) for k, x in
            (("clean", clean), ("limited", limited), ("noisy", noisy))}
    top = int(8000 / fs * stft.n_fft(fs))
    f = np.arange(stft.n_bins(fs)) * fs / stft.n_fft(fs)
    lacks = missing_band(spec["limited"], spec["clean"], 20.0, top)[0, :, 0].numpy()
    assert lacks.shape == f.shape and set(np.unique(lacks)) <= {0.0, 1.0}
    assert lacks[(f > 4300) & (f < 7700)].all() and not lacks[f < 3700].any() and not lacks[f >= 8000].any()
    assert not missing_band(spec["noisy"], spec["clean"], 20.0, top).any()

    weight = 1.0 - torch.from_numpy(lacks)[None, :, None]
    flipped = stft.stft(torch.from_numpy(band(clean, fs, 4000, 8000, gain=-1.0))[None], fs)  # phase turned by pi
    free, _ = compressed_spectral_loss(flipped, spec["clean"], 0.3, weight)
    scored, _ = compressed_spectral_loss(flipped, spec["clean"], 0.3)
    assert free.item() < 0.05 * scored.item()  # what is left: the edges of the band
    quiet = stft.stft(torch.from_numpy(band(clean, fs, 4000, 8000, gain=0.1))[None], fs)  # magnitude off by 20 dB
    _, magnitude = compressed_spectral_loss(quiet, spec["clean"], 0.3, weight)
    assert magnitude.item() > 10 * compressed_spectral_loss(spec["clean"], spec["clean"], 0.3, weight)[1].item() + 1e-3


def test_postnet_stage_trains_from_the_cache_with_its_discriminators(tiny_cache, tmp_path):
    import csv

    from gapse_core.checkpoints import load_model, read
    from gapse_core.config import to_dict
    from gapse_core.train.run import run

    configs = Path(__file__).resolve().parent.parent / "configs"
    common = {"cache": to_dict(tiny_cache), "trainer.steps": 10, "trainer.val_every": 10, "trainer.log_every": 5,
              "trainer.progress": False, "optim.warmup_steps": 2, "loss.w_sqa": 0.5, "loss.missing_band_db": 20.0}
    val = run("postnet", configs / "postnet" / "tiny.yaml", tmp_path / "postnet", common, device="cpu")
    assert {"pesq", "ovrl", "lsd", "pesq_pred", "pesq_gen", "ovrl_pred", "lsd_gen"} <= set(val)
    assert 1.0 <= val["pesq"] <= 4.6 and 0.0 < val["lsd"] < 80.0
    rows = [r for r in csv.DictReader(open(tmp_path / "postnet" / "log.csv")) if r.get("mel")]
    assert len(rows) == 2 and all(r.get("adv") and r.get("d_loss") for r in rows)  # GAN from step 0 (tiny.yaml)
    assert all(r.get("mrstft") and r.get("complex") and r.get("magnitude") for r in rows)  # every recon term
    assert all(1.0 < float(r["sqa_ovrl"]) < 5.0 for r in rows)  # the learned-quality term (loss.w_sqa)
    assert all(0.0 <= float(r["missing_bins"]) < 0.2 for r in rows)  # loss.missing_band_db
    assert read(tmp_path / "postnet" / "model.pt")["kind"] == "postnet"
    assert type(load_model(tmp_path / "postnet" / "model.pt")[0]).__name__ == "PostNet"


def test_postnet_sqa_term_is_the_learned_ovrl_of_its_output_heard_at_16k(tiny_checkpoint, speech16k):
    """``loss.w_sqa``: the PostNet's loss falls by w_sqa x the OVRL that the quality model gives its
    48 kHz output brought to 16 kHz (as soxr would), and that term reaches the PostNet's weights."""
    from gapse_core.audio.resample import resample
    from gapse_core.checkpoints import load_model
    from gapse_core.train.run import load_stage

    configs = Path(__file__).resolve().parent.parent / "configs"
    quality = str(tiny_checkpoint.parent / "quality-small.pt")
    over = {"data.generative": "paragse", "loss.quality": quality}
    stage, _ = load_stage("postnet", configs / "postnet" / "tiny.yaml", over)
    sqa, _ = load_stage("postnet", configs / "postnet" / "tiny.yaml", {**over, "loss.w_sqa": 2.0})
    model = load_model(tiny_checkpoint.parent / "postnet-gap-small.pt")[0]
    rng = np.random.default_rng(0)
    clean = resample(speech16k[:16000], 16000, 48000)
    noisy = clean + 0.05 * rng.standard_normal(len(clean))  # (noisy, clean, pred, gen)
    batch = tuple(torch.from_numpy(np.stack([x, x[::-1].copy()]).astype(np.float32))
                  for x in (noisy, clean, noisy, 0.5 * clean))
    out = stage.generate(model, batch, torch.device("cpu"))
    l0, logs0 = stage.reconstruction(out)
    l1, logs1 = sqa.reconstruction(out)
    assert "sqa_ovrl" not in logs0 and torch.isclose(l1, l0 - 2.0 * logs1["sqa_ovrl"], atol=1e-4)
    heard = load_model(quality)[0].eval()(torch.from_numpy(np.stack(
        [resample(y, 48000, 16000) for y in out["fake"].detach().numpy()])))[:, 0].mean().item()
    assert abs(logs1["sqa_ovrl"] - heard) < 0.02
    model.zero_grad()
    (l1 - l0).backward()  # the SQA term alone
    assert sum(float(p.grad.abs().sum()) for p in model.parameters() if p.grad is not None) > 0


@pytest.mark.parametrize("system", ["paragse-fusion", "gap-fusion"])
@pytest.mark.parametrize("fs", [8000, 48000])
def test_fused_system_returns_both_branches_the_mask_and_the_fused_output(system, fs, tiny_checkpoint, speech16k,
                                                                          monkeypatch):
    from gapse_core.audio.resample import resample
    from gapse_core.systems import Enhancer

    monkeypatch.setenv("GAPSE_CHECKPOINTS", str(tiny_checkpoint.parent))
    x = resample(speech16k[:24000], 16000, fs) + 0.01 * np.random.default_rng(0).standard_normal(int(1.5 * fs))
    enh = Enhancer(system, device="cpu")
    res = enh.enhance(x.astype(np.float32), fs)
    assert set(res.branches) == {"predictive", "generative"}
    assert res.final is res.fused and len(res.final) == len(x)
    hop = enh.models["fusion"].stft.hop(fs)
    assert res.mask.shape == (enh.models["fusion"].stft.n_bins(fs), len(x) // hop + 1)
    assert 0.0 <= float(res.mask.min()) and float(res.mask.max()) <= 1.0
    assert "fusion" in res.timings
    # chunked (long input): the stitched mask covers the same frames, and the fused output its length
    enh.chunk_seconds, enh.overlap_seconds = 0.5, 0.1
    import gapse_core.systems as systems

    chunks, level = [], systems.local_level  # every stage's chunks of the input, before the level follower
    monkeypatch.setattr(systems, "local_level", lambda c, f: (chunks.append(c), level(c, f))[1])
    x = np.concatenate([x, x[:7]])  # a length off the 20 ms grid
    long = enh.enhance(x.astype(np.float32), fs)
    assert long.mask.shape[0] == res.mask.shape[0] and long.mask.shape[1] == len(x) // hop + 1
    assert len(long.final) == len(x)
    assert float(np.abs(long.mask.astype(np.float32) - 1).max()) > 0  # real mask values, not the fill
    # balanced chunks, each starting on the 20 ms packet grid (lost packets are found counting from sample 0)
    assert len(chunks) == 3 * 4  # 4 chunks for each stage: both branches and the fusion
    chunks = chunks[:4]  # the predictive branch's
    assert len({len(c) for c in chunks[:-1]}) == 1
    starts = [int(np.flatnonzero(x.astype(np.float32) == c[0])[0]) for c in chunks]
    assert starts[0] == 0 and all(s % (fs // 50) == 0 for s in starts) and starts[-1] + len(chunks[-1]) == len(x)


@pytest.mark.parametrize("system, stages", [("gap-fusion", ["predictive", "generative", "fusion"]),
                                            ("gap-urgenet", ["predictive", "generative", "postnet"])])
@pytest.mark.parametrize("fs", [16000, 96000])
def test_progress_counts_every_chunk_of_every_stage(system, stages, fs, tiny_checkpoint, speech16k, monkeypatch):
    from gapse_core.audio.resample import resample
    from gapse_core.systems import Enhancer

    monkeypatch.setenv("GAPSE_CHECKPOINTS", str(tiny_checkpoint.parent))
    enh = Enhancer(system, device="cpu", chunk_seconds=0.5, overlap_seconds=0.1, generative_chunk_seconds=0.25)
    x = resample(speech16k[:24000], 16000, fs)  # 1.5 s: 4 chunks of at most 0.5 s per stage, 8 of 0.25 s
    calls, lengths, branch = [], [], enh.generative.enhance
    enh.generative.enhance = lambda c, f: (lengths.append(len(c) / f), branch(c, f))[1]
    res = enh.enhance(x, fs, progress=lambda stage, done, total: calls.append((stage, done, total)))
    assert [c[1] for c in calls] == list(range(1, 17)) and {c[2] for c in calls} == {16}
    assert [c[0] for c in calls] == [stage for stage in stages for _ in range(8 if stage == "generative" else 4)]
    assert len(lengths) == 8 and max(lengths) <= 0.25 + 0.02  # its own chunks (the last on the 20 ms grid)
    np.testing.assert_array_equal(res.final, enh.enhance(x, fs).final)  # watching changes nothing


def test_an_input_above_48_khz_is_enhanced_at_48_khz_and_returned_at_its_rate(tiny_checkpoint, speech16k, monkeypatch):
    """96 kHz in: the system runs at 48 kHz (its top rate) and every signal comes back at 96 kHz and the
    input's length; a 30 kHz tone (above 24 kHz) is gone; the mask is the 48 kHz run's."""
    from gapse_core.audio.resample import resample, resample_to_length
    from gapse_core.systems import Enhancer

    monkeypatch.setenv("GAPSE_CHECKPOINTS", str(tiny_checkpoint.parent))
    fs = 96000
    x = resample(speech16k[:24000], 16000, fs) + 0.01 * np.random.default_rng(0).standard_normal(int(1.5 * fs))
    x = (x + tone(30000, fs, 1.5, 0.1)).astype(np.float32)
    x = np.concatenate([x, x[:7]])  # a length that 96 -> 48 kHz does not halve exactly
    enh = Enhancer("gap-fusion", device="cpu")
    res = enh.enhance(x, fs)
    at48 = enh.enhance(resample(x, fs, 48000), 48000)
    assert res.fs == fs and res.input is not None and len(res.input) == len(x)
    assert len(res.final) == len(x) and all(len(y) == len(x) for y in res.branches.values())
    assert res.final is res.fused  # the fused output is the final one, as at the models' own rates
    np.testing.assert_allclose(res.final, resample_to_length(at48.final, 48000, fs, len(x)), atol=1e-4)
    np.testing.assert_allclose(res.branches["predictive"],
                               resample_to_length(at48.branches["predictive"], 48000, fs, len(x)), atol=1e-4)
    np.testing.assert_array_equal(res.mask, at48.mask)
    assert res.mask.shape[0] == enh.models["fusion"].stft.n_bins(48000)
    freqs = np.fft.rfftfreq(len(x), 1 / fs)
    above = [float(p[freqs > 25000].sum() / p.sum()) for p in (np.abs(np.fft.rfft(y)) ** 2 for y in (x, res.final))]
    assert above[0] > 0.1 and above[1] < 1e-5  # the 30 kHz tone was there, and did not come back
    assert any("resampling" in k for k in res.timings) and "fusion" in res.timings


@pytest.mark.parametrize("fs", [8000, 16000, 48000])
def test_gap_urgenet_runs_the_postnet_over_both_branches_at_the_input_rate(fs, tiny_checkpoint, speech16k, monkeypatch):
    from gapse_core.audio.resample import resample
    from gapse_core.systems import Enhancer

    monkeypatch.setenv("GAPSE_CHECKPOINTS", str(tiny_checkpoint.parent))
    rng = np.random.default_rng(0)
    x = resample(speech16k[:24000], 16000, fs) + 0.01 * rng.standard_normal(int(1.5 * fs))
    if fs == 48000:  # something above 8 kHz, which the PostNet must leave to the predictive branch
        x = x + tone(14000, fs, 1.5, 0.05)
    enh = Enhancer("gap-urgenet", device="cpu")
    res = enh.enhance(x.astype(np.float32), fs)
    assert set(res.branches) == {"predictive", "generative"} and res.fused is None and res.mask is None
    assert len(res.final) == len(x) and "postnet" in res.timings
    pred = res.branches["predictive"]
    diff = np.abs(np.fft.rfft(res.final - pred))
    f = np.fft.rfftfreq(len(pred), 1 / fs)
    assert diff[f < 3500].mean() > 0.005 * np.abs(np.fft.rfft(pred))[f < 3500].mean()  # the (random) PostNet's own
    if fs == 48000:  # above 8 kHz: the predictive branch
        assert diff[f < 7500].mean() > 30 * diff[f > 8500].mean()
        assert abs(band_energy(res.final, fs, 14000) / band_energy(pred, fs, 14000) - 1) < 0.01
    enh.chunk_seconds, enh.overlap_seconds = 0.5, 0.1  # long input: chunked, same length
    assert len(enh.enhance(x.astype(np.float32), fs).final) == len(x)
