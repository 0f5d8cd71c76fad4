"""GAP-URGENet's generative branch: the centred frame grid, packet-loss detection at any rate, the
vocoder / DeWavLM / adapter stages through the trainer (GAN steps, resume), and the branch as a system."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gapse_core import checkpoints
from gapse_core.models.adapter import Adapter, AdapterConfig
from gapse_core.models.gap_generative import GAPGenerative
from gapse_core.models.ssl import (CENTRED_OFFSET, SSLConfig, SSLEncoder, centred_frame_mask, centred_input, frames,
                                   lost_packets)
from gapse_core.models.vocoder import LogMelFrames, Vocoder, VocoderConfig
from gapse_core.nn.vocos import VocosConfig

ROOT = Path(__file__).resolve().parent.parent
TINY_SSL = SSLConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, conv_dim=32,
                     conv_pos_kernel=8, conv_pos_groups=4)
TINY_VOCOS = VocosConfig(input_dim=32, dim=32, intermediate_dim=64, n_layers=2)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """Random tiny teacher, DeWavLM, adapter and vocoder saved as the shipped names in one folder."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("gen")
    teacher = SSLEncoder(TINY_SSL).eval()
    checkpoints.save_model(folder / "ssl-small.pt", teacher, "ssl")
    checkpoints.save_model(folder / "dewavlm-small.pt", teacher, "ssl")
    checkpoints.save_model(folder / "adapter-small.pt", Adapter(AdapterConfig(TINY_VOCOS)), "adapter")
    checkpoints.save_model(folder / "vocoder-small.pt", Vocoder(VocoderConfig(TINY_VOCOS)), "vocoder")
    return folder


def test_centred_grid_keeps_the_input_and_maps_each_packet_to_one_frame():
    n = 16000 + 123
    wave = torch.randn(1, n)
    x = centred_input(wave)
    t = frames(x.shape[-1])
    assert t == -(-n // 320) + 1 and t * 320 >= n + CENTRED_OFFSET
    assert torch.equal(x[:, 320: 320 + n], wave)
    # frame k's window [320 k, 320 k + 400) is centred on original sample 320 k - 120
    k = 7
    assert 320 * k + 200 - 320 == 320 * k - CENTRED_OFFSET
    lost = torch.zeros(1, -(-n // 320), dtype=torch.bool)
    lost[0, [0, 5, 6, 50]] = True
    mask = centred_frame_mask(lost, t)
    assert torch.nonzero(mask[0]).flatten().tolist() == [0, 1, 6, 7, 51]  # frame 0 is packet 0's reflection


def test_log_mel_frames_lie_on_the_ssl_encoders_grid():
    import librosa

    n = 16000 + 123
    mel = LogMelFrames(64)
    ssl_shape = SSLEncoder(TINY_SSL).centred(torch.zeros(2, n)).acoustic.shape
    assert mel.centred(torch.zeros(2, n)).acoustic.shape == (*ssl_shape[:2], 64)
    # a click at sample s is loudest in the frame centred nearest to it: 320 t - CENTRED_OFFSET
    for s in (1000, 5000, 12345):
        click = torch.zeros(1, n)
        click[0, s] = 1.0
        energy = mel.centred(click).acoustic[0].exp().sum(-1)
        assert int(energy.argmax()) == round((s + CENTRED_OFFSET) / 320)
    # a 1 kHz tone peaks in the band whose centre is nearest 1 kHz
    tone = torch.sin(2 * math.pi * 1000 * torch.arange(n) / 16000)[None]
    centres = librosa.mel_frequencies(64 + 2, fmin=0.0, fmax=8000.0)[1:-1]
    peak = mel.centred(tone).acoustic[0, 5:-5].mean(0).argmax()
    assert abs(int(peak) - int(np.abs(centres - 1000).argmin())) <= 1


@pytest.mark.parametrize("fs", [8000, 16000, 44100, 48000])
def test_lost_packets_are_found_at_the_inputs_own_rate(fs):
    rng = np.random.default_rng(0)
    p = fs // 50
    wave = torch.from_numpy(rng.standard_normal((1, fs + p // 2)).astype(np.float32))
    for k in (2, 3, 30):
        wave[0, k * p: (k + 1) * p] = 0.0
    wave[0, 40 * p: 40 * p + int(0.9 * p)] = 0.0  # 90 % of a packet: not lost (< 99 %)
    wave[0, 50 * p:] = 0.0  # the final, partial packet counts on its own samples
    found = lost_packets(wave, fs)
    assert found.shape == (1, 51)
    assert torch.nonzero(found[0]).flatten().tolist() == [2, 3, 30, 50]


@pytest.mark.parametrize("fs", [8000, 16000, 22050, 48000])
def test_generative_branch_returns_the_inputs_rate_length_and_level(parts, fs):
    branch = GAPGenerative(*(checkpoints.load_model(parts / f"{n}-small.pt")[0] for n in ("dewavlm", "adapter", "vocoder")))
    rng = np.random.default_rng(1)
    wave = (0.05 * rng.standard_normal(int(1.3 * fs) + 7)).astype(np.float32)
    y = branch.enhance(wave, fs)
    assert y.shape == wave.shape and y.dtype == np.float32 and np.isfinite(y).all()
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(wave**2)), rel=1e-3)


def test_generative_branch_masks_the_frames_of_packets_lost_at_48k(parts, monkeypatch):
    branch = GAPGenerative(*(checkpoints.load_model(parts / f"{n}-small.pt")[0] for n in ("dewavlm", "adapter", "vocoder")))
    seen = {}
    original = SSLEncoder.centred

    def spy(self, wave, lost=None):
        seen["lost"] = lost.clone()
        return original(self, wave, lost)

    monkeypatch.setattr(SSLEncoder, "centred", spy)
    wave = np.random.default_rng(2).standard_normal(48000).astype(np.float32) * 0.1
    wave[960 * 10: 960 * 12] = 0.0
    branch.enhance(wave, 48000)
    assert seen["lost"].shape == (1, 50)
    assert torch.nonzero(seen["lost"][0]).flatten().tolist() == [10, 11]


def _log(out: Path) -> list[dict]:
    return list(csv.DictReader(open(out / "log.csv")))


def test_vocoder_stage_trains_with_discriminators_and_resumes_them(parts, data_dir, tmp_path, capsys):
    from gapse_core.train.run import run

    out = tmp_path / "voc"
    cfg = ROOT / "configs" / "vocoder" / "tiny.yaml"
    over = {"teacher": str(parts / "ssl-small.pt"), "data.path": str(data_dir), "trainer.steps": 14,
            "trainer.val_every": 14, "loss.gan_start_step": 10, "loss.disc_warmup_steps": 4}
    final = run("vocoder", cfg, out, over, device="cpu")
    rows = [r for r in _log(out) if r.get("mel")]
    assert not any(r.get("d_loss") for r in rows if int(r["step"]) <= 6)  # mel loss alone before step 10 - 4
    warmup = [r for r in rows if 6 < int(r["step"]) <= 10]  # discriminators learn, the generator does not hear them
    assert warmup and all(r.get("d_loss") and not r.get("fm") and not r.get("adv") for r in warmup)
    assert all(r.get("d_loss") and r.get("fm") for r in rows if int(r["step"]) > 10)
    assert float(rows[-1]["mel"]) < float(rows[0]["mel"])
    assert {"pesq", "estoi", "ovrl", "ovrl_clean"} <= set(final) and final["ovrl_clean"] > 1.0
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["step"] == 14 and "discriminator" in state and "discriminator_optimizer" in state
    d14 = {k: v.clone() for k, v in state["discriminator"].items()}
    capsys.readouterr()
    run("vocoder", cfg, out, {**over, "trainer.steps": 16}, device="cpu")
    assert "resumed from" in capsys.readouterr().out
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["step"] == 16
    assert any(not torch.equal(d14[k], v) for k, v in state["discriminator"].items())  # trained on after resume
    vocoder, meta = checkpoints.load_model(out / "model.pt")
    assert isinstance(vocoder, Vocoder) and meta["steps"] == 16


def test_vocoder_stage_trains_on_log_mel_frames_without_an_ssl_teacher(data_dir, tmp_path):
    from gapse_core.train.run import run

    out = tmp_path / "voc-mel"
    over = {"teacher": "log-mel", "data.path": str(data_dir), "trainer.steps": 6, "trainer.val_every": 0,
            "loss.gan_start_step": 100}
    run("vocoder", ROOT / "configs" / "vocoder" / "tiny.yaml", out, over, device="cpu")
    rows = [r for r in _log(out) if r.get("mel")]
    assert rows and all(math.isfinite(float(r["mel"])) for r in rows)
    vocoder, _ = checkpoints.load_model(out / "model.pt")
    x = torch.randn(1, 8000)
    y = vocoder.synthesize(LogMelFrames(vocoder.cfg.backbone.input_dim).centred(x).acoustic, 8000)
    assert y.shape == (1, 8000) and torch.isfinite(y).all()


def test_a_slim_gan_state_is_smaller_and_a_run_resumes_from_it(parts, data_dir, tmp_path, capsys):
    from gapse_core.train.portable import main as slim_main
    from gapse_core.train.run import run

    out = tmp_path / "voc"
    cfg = ROOT / "configs" / "vocoder" / "tiny.yaml"
    over = {"teacher": str(parts / "ssl-small.pt"), "data.path": str(data_dir), "trainer.steps": 12,
            "trainer.val_every": 0, "loss.gan_start_step": 6, "discriminator.channels": 16,
            "discriminator.max_channels": 64}
    run("vocoder", cfg, out, over, device="cpu")
    full = torch.load(out / "last.pt", weights_only=True)
    assert slim_main([str(out / "last.pt"), str(tmp_path / "slim.pt"), "--drop-optimizer"]) == 0
    assert (tmp_path / "slim.pt").stat().st_size < 0.6 * (out / "last.pt").stat().st_size
    small = torch.load(tmp_path / "slim.pt", weights_only=True)
    assert "discriminator_optimizer" not in small and "optimizer" not in small and small["step"] == 12
    for k, v in full["discriminator"].items():
        if v.is_floating_point():
            assert small["discriminator"][k].dtype == torch.bfloat16
            assert torch.allclose(small["discriminator"][k].float(), v, rtol=1e-2, atol=1e-6)
    assert all(torch.equal(small["model"][k], v) for k, v in full["model"].items())  # the generator exact
    with pytest.raises(SystemExit):  # never onto the full state itself
        slim_main([str(out / "last.pt"), str(out / "last.pt")])
    (tmp_path / "slim.pt").replace(out / "last.pt")  # what a machine gets back instead of the full state
    capsys.readouterr()
    run("vocoder", cfg, out, {**over, "trainer.steps": 14}, device="cpu")
    said = capsys.readouterr().out
    assert "resumed from" in said and "at step 12" in said
    assert "the generator's and the discriminators' AdamW moments start afresh" in said
    resumed = torch.load(out / "last.pt", weights_only=True)
    assert resumed["step"] == 14 and "discriminator_optimizer" in resumed and "optimizer" in resumed
    assert all(v.dtype == torch.float32 for v in resumed["discriminator"].values() if v.is_floating_point())
    rows = [r for r in _log(out) if r.get("mel") and int(r["step"]) > 12]
    assert rows and all(r.get("adv") and math.isfinite(float(r["loss"])) for r in rows)


def test_dewavlm_distillation_starts_as_the_teacher_and_moves_towards_clean_representations(parts, data_dir, tmp_path):
    from gapse_core.train.run import load_stage, run

    over = {"teacher": str(parts / "ssl-small.pt"), "data.path": str(data_dir)}
    cfg = ROOT / "configs" / "dewavlm" / "tiny.yaml"
    stage, _ = load_stage("dewavlm", cfg, over)
    start = stage.validate(stage.build_model(), torch.device("cpu"))
    # the student is an exact copy of the teacher: same error on the degraded speech
    assert start["mse_phonetic"] == pytest.approx(start["teacher_mse_phonetic"], rel=1e-5)
    assert start["mse_acoustic"] == pytest.approx(start["teacher_mse_acoustic"], rel=1e-5)
    final = run("dewavlm", cfg, tmp_path / "dw", {**over, "trainer.steps": 40, "trainer.val_every": 40}, device="cpu")
    assert final["mse_phonetic"] + final["mse_acoustic"] < 0.9 * (start["mse_phonetic"] + start["mse_acoustic"])
    student, _ = checkpoints.load_model(tmp_path / "dw" / "model.pt")
    assert isinstance(student, SSLEncoder)  # DeWavLM is saved as an SSL encoder, like its teacher


def test_adapter_stage_and_the_whole_branch_as_a_system(parts, data_dir, tmp_path, monkeypatch):
    from gapse_core.systems import Enhancer
    from gapse_core.train.run import run

    out = tmp_path / "ad"
    final = run("adapter", ROOT / "configs" / "adapter" / "tiny.yaml", out,
                {"teacher": str(parts / "ssl-small.pt"), "dewavlm": str(parts / "dewavlm-small.pt"),
                 "vocoder": str(parts / "vocoder-small.pt"), "data.path": str(data_dir)}, device="cpu")
    rows = [r for r in _log(out) if r.get("mse")]
    assert float(rows[-1]["mse"]) < 0.75 * float(rows[0]["mse"])
    assert any(r.get("d_loss") for r in rows)
    assert {"mse", "mse_noisy_acoustic", "pesq", "estoi", "ovrl"} <= set(final)
    monkeypatch.setenv("GAPSE_CHECKPOINTS", str(parts))
    enh = Enhancer("gap-generative", device="cpu", checkpoints={"adapter": str(out / "model.pt")})
    wave = (0.1 * np.sin(2 * np.pi * 200 * np.arange(24000) / 24000)).astype(np.float32)
    res = enh.enhance(wave, 24000)
    assert set(res.branches) == {"generative"} and res.final.shape == wave.shape and "generative" in res.timings
