"""The training framework: schedule, configs, a real learning signal, kill/resume, DDP on 2 CPU processes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gapse_core.config import ConfigError, from_dict
from gapse_core.train.predictor import PredictorStage, PredictorStageConfig
from gapse_core.train.run import load_stage
from gapse_core.train.trainer import OptimConfig, lr_at

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "configs" / "predictor" / "tiny.yaml"


def test_lr_schedule_warms_up_then_decays():
    cfg = OptimConfig(warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, 100, cfg) == pytest.approx(0.1)
    assert lr_at(9, 100, cfg) == pytest.approx(1.0)
    assert lr_at(55, 100, cfg) == pytest.approx(0.55, abs=0.01)
    assert lr_at(100, 100, cfg) == pytest.approx(0.1)


def test_configs_load_and_reject_typos():
    for path in sorted((ROOT / "configs").rglob("*.yaml")):  # every shipped config, by its stage
        stage_name = "paragse_decoder" if path.name.startswith("decoder-") else path.parent.name
        stage, cfg = load_stage(stage_name, path)
        assert type(cfg) is stage.config_class, path
    assert len(list((ROOT / "configs" / "predictor").glob("*.yaml"))) >= 4
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(PredictorStageConfig, {"model": {"net": {"emb_dimm": 3}}})
    with pytest.raises(ConfigError, match="expected int"):
        from_dict(PredictorStageConfig, {"trainer": {"steps": "many"}})
    # YAML 1.1 reads "3e-4" as a string; a float field takes it, and still refuses words
    _, cfg = load_stage("predictor", ROOT / "configs" / "predictor" / "tiny.yaml", {"optim.lr": "3e-4"})
    assert cfg.optim.lr == pytest.approx(3e-4)
    with pytest.raises(ConfigError, match="expected float"):
        from_dict(PredictorStageConfig, {"optim": {"lr": "fast"}})


def test_loss_falls_when_fitting_one_batch(data_dir):
    torch.manual_seed(0)
    _, cfg = load_stage("predictor", TINY, {"data.path": str(data_dir)})
    stage = PredictorStage(cfg)
    model = stage.build_model()
    batch = next(stage.batches(0, 0, 1, 0))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss, logs = stage.loss(model, batch, torch.device("cpu"))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5


def test_sqa_term_pushes_the_learned_ovrl_of_16k_batches_up(data_dir, tmp_path):
    """``loss.w_sqa``: the loss falls by w_sqa x the learned OVRL of 16 kHz batches (none at other
    rates), and a gradient flows into the predictor through the frozen quality model."""
    from gapse_core.checkpoints import save_model
    from gapse_core.models.quality import QualityConfig, QualityPredictor

    torch.manual_seed(0)
    qpath = save_model(tmp_path / "q.pt", QualityPredictor(QualityConfig(n_mels=16, channels=8, layers=1,
                                                                         gru_hidden=8)), "quality")
    over = {"data.path": str(data_dir), "data.rates": [16000], "data.rate_weights": [1.0]}
    _, plain = load_stage("predictor", TINY, over)
    _, sqa = load_stage("predictor", TINY, {**over, "loss.w_sqa": 2.0, "loss.quality": str(qpath)})
    stage, base = PredictorStage(sqa), PredictorStage(plain)
    model = base.build_model()
    batch = next(base.batches(0, 0, 1, 0))
    l0, logs0 = base.loss(model, batch, torch.device("cpu"))
    l1, logs1 = stage.loss(model, batch, torch.device("cpu"))
    assert "sqa_ovrl" not in logs0 and torch.isclose(l1, l0 - 2.0 * logs1["sqa_ovrl"], atol=1e-4)
    model.zero_grad()
    (l1 - l0).backward()  # the SQA term alone
    assert sum(float(p.grad.abs().sum()) for p in model.parameters() if p.grad is not None) > 0
    noisy, clean, _ = batch
    _, logs8 = stage.loss(model, (noisy, clean, 8000), torch.device("cpu"))
    assert "sqa_ovrl" not in logs8


def test_online_sqa_critic_learns_dnsmos_of_the_current_outputs(data_dir, tmp_path):
    """``loss.sqa_critic``: the quality model is a discriminator that DNSMOS re-teaches on the
    predictor's own outputs (MetricGAN+): its error on those outputs falls as it steps, the
    replay fills, other rates give it a zero loss, and the generator's SQA term hears it."""
    from gapse_core import metrics
    from gapse_core.checkpoints import save_model
    from gapse_core.models.quality import QualityConfig, QualityPredictor

    torch.manual_seed(0)
    qpath = save_model(tmp_path / "q.pt", QualityPredictor(QualityConfig(n_mels=16, channels=8, layers=1,
                                                                         gru_hidden=8)), "quality")
    over = {"data.path": str(data_dir), "data.rates": [16000], "data.rate_weights": [1.0], "loss.w_sqa": 1.0,
            "loss.quality": str(qpath), "loss.sqa_critic": True, "loss.critic_clips": 2, "loss.critic_replay": 3}
    _, cfg = load_stage("predictor", TINY, over)
    stage = PredictorStage(cfg)
    assert PredictorStage(load_stage("predictor", TINY)[1]).build_discriminator() is None  # off by default
    model, critic = stage.build_model(), stage.build_discriminator()
    out = stage.generate(model, next(stage.batches(0, 0, 1, 0)), torch.device("cpu"))
    clips = (out["est"] * out["scale"]).detach().numpy()
    teacher = metrics.dnsmos_windows(clips)  # [2, 3]
    opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
    errors = []
    for _ in range(12):
        d_loss, logs = stage.discriminator_loss(critic, out)
        assert logs["dnsmos_ovrl"] == pytest.approx(teacher[:, 0].mean(), abs=1e-5)
        opt.zero_grad()
        d_loss.backward()
        opt.step()
        with torch.no_grad():
            errors.append(float((critic(torch.from_numpy(clips))[:, 0] - torch.from_numpy(teacher[:, 0])).abs().mean()))
    assert len(stage._replay) == 3  # bounded by critic_replay
    assert errors[-1] < 0.5 * errors[0], errors
    g_loss, g_logs = stage.generator_loss(critic, out)
    with torch.no_grad():
        assert g_logs["sqa_ovrl"] == pytest.approx(float(critic(torch.from_numpy(clips))[:, 0].mean()), abs=1e-4)
    noisy, clean, _ = next(stage.batches(0, 0, 1, 0))
    zero, logs8 = stage.discriminator_loss(critic, stage.generate(model, (noisy, clean, 8000), torch.device("cpu")))
    assert zero.item() == 0.0 and zero.requires_grad and logs8 == {}


def test_a_run_with_the_critic_saves_it_and_logs_terms_over_the_steps_that_have_them(data_dir, tmp_path):
    """Through the trainer: the critic is saved in ``last.pt``; a term only the 16 kHz steps have
    is averaged over those steps (not over the whole logging window, which would shrink it)."""
    from itertools import islice

    from gapse_core.checkpoints import save_model
    from gapse_core.models.quality import QualityConfig, QualityPredictor
    from gapse_core.train.run import run

    qpath = save_model(tmp_path / "q.pt", QualityPredictor(QualityConfig(n_mels=16, channels=8, layers=1,
                                                                         gru_hidden=8, mos_mean=3.0)), "quality")
    over = {"data.path": str(data_dir), "loss.w_sqa": 1.0, "loss.quality": str(qpath), "loss.sqa_critic": True,
            "trainer.steps": 3, "trainer.log_every": 3, "trainer.val_every": 0, "trainer.progress": False}
    run("predictor", TINY, tmp_path / "run", over, device="cpu")
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert "discriminator" in state and "discriminator_optimizer" in state
    _, cfg = load_stage("predictor", TINY, over)
    rates = [fs for _, _, fs in islice(PredictorStage(cfg).batches(cfg.trainer.seed, 0, 1, 0), 3)]
    assert 0 < rates.count(16000) < 3  # the window mixes 8 and 16 kHz steps
    run("predictor", TINY, tmp_path / "steps", {**over, "trainer.log_every": 1}, device="cpu")  # the same run, a row a step

    def rows(path):
        header, *lines = (path / "log.csv").read_text().splitlines()
        return [{k: float(v) for k, v in zip(header.split(","), line.split(",")) if v} for line in lines]

    (window,), per_step = rows(tmp_path / "run"), rows(tmp_path / "steps")
    for key in ("dnsmos_ovrl", "sqa_ovrl", "loss"):
        values = [r[key] for r in per_step if key in r]
        assert len(values) == (3 if key == "loss" else rates.count(16000))
        assert window[key] == pytest.approx(sum(values) / len(values), rel=1e-3)


def test_val_every_zero_never_validates_and_still_saves_the_last_step(data_dir, tmp_path):
    """What a machine without the held-out split (or pesq) runs: no validation, not even at the end."""
    from gapse_core.checkpoints import read
    from gapse_core.train.run import run

    val = run("predictor", TINY, tmp_path, {"data.path": str(data_dir), "trainer.steps": 3, "trainer.val_every": 0,
                                          "trainer.ckpt_every": 2, "trainer.log_every": 1, "trainer.progress": False},
              device="cpu")
    assert val == {}
    assert read(tmp_path / "model.pt")["meta"]["steps"] == 3 and not (tmp_path / "best.pt").exists()
    assert "val_" not in (tmp_path / "log.csv").read_text()


def _train_cmd(out, data_dir, steps, extra=()):
    return [sys.executable, "-m", "gapse_core.cli", "train", "predictor", "--config", str(TINY),
            "--out", str(out), "--data", str(data_dir), "--steps", str(steps), *extra]


def test_a_missing_data_folder_is_one_line_before_any_worker_starts(tmp_path):
    """Without the check, the corpus error surfaced from a data-loader (or cache-building) worker,
    wrapped in its traceback."""
    from gapse_core.train import branch_cache

    res = subprocess.run(_train_cmd(tmp_path / "run", tmp_path / "nowhere", 3), capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert res.stderr.strip().splitlines()[-1] == f"gapse: error: {tmp_path / 'nowhere'}: no speech/ folder " \
                                                  "(expected the layout of ../shared/data)"
    res = subprocess.run([sys.executable, "-m", "gapse_core.cli", "train", "fusion", "--config",
                          str(ROOT / "configs" / "fusion" / "gap-small.yaml"), "--out", str(tmp_path / "fusion"),
                          "--data", str(tmp_path / "nowhere"), "--set", f"cache.dir={tmp_path / 'cache'}"],
                         capture_output=True, text=True, cwd=ROOT)  # a stage that reads the branch cache
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "no speech/ folder" in res.stderr, res.stderr
    assert not (tmp_path / "fusion").exists() and not (tmp_path / "cache").exists()
    cfg = branch_cache.BranchCacheConfig(path=str(tmp_path / "nowhere"), dir=str(tmp_path / "cache"), workers=2)
    with pytest.raises(FileNotFoundError, match="no speech/ folder"):
        branch_cache.build(cfg, "train", progress=False)
    assert not (tmp_path / "cache").exists()


def test_kill_and_resume(data_dir, tmp_path):
    out = tmp_path / "run"
    args = _train_cmd(out, data_dir, 400, ["--set", "trainer.ckpt_every=2", "--set", "trainer.val_every=1000"])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.time() + 120
    step = 0
    while time.time() < deadline and step < 6:
        time.sleep(0.5)
        if (out / "last.pt").exists():
            try:
                step = torch.load(out / "last.pt", weights_only=True)["step"]
            except Exception:  # never torn (atomic rename), but be explicit about retrying
                continue
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 6 <= step < 400, f"the run did not checkpoint in time (step {step})"
    killed_at = torch.load(out / "last.pt", weights_only=True)["step"]
    resumed = subprocess.run(_train_cmd(out, data_dir, killed_at + 4), capture_output=True, text=True, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resumed from {out / 'last.pt'} at step {killed_at}" in resumed.stdout + resumed.stderr
    final = torch.load(out / "last.pt", weights_only=True)
    assert final["step"] == killed_at + 4
    log = (out / "log.csv").read_text().splitlines()
    assert any(line.split(",")[4] == str(killed_at + 4) for line in log[1:] if line.count(",") >= 4)


def test_ddp_two_cpu_processes(data_dir, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "gapse_core.cli", "train", "predictor", "--config", str(TINY), "--out", str(out),
           "--data", str(data_dir), "--steps", "6", "--set", "trainer.val_every=6"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    # a failing rank prints its own traceback first; torchrun's summary comes last
    assert res.returncode == 0, res.stderr[:4000] + "\n...\n" + res.stderr[-2000:]
    ckpt = torch.load(out / "model.pt", weights_only=True)
    assert ckpt["meta"]["world_size"] == 2 and ckpt["meta"]["steps"] == 6


def test_small_deeper_config_starts_exactly_where_predictor_small_is():
    from gapse_core.checkpoints import load_model, read

    stage, cfg = load_stage("predictor", ROOT / "configs" / "predictor" / "small-deeper.yaml")
    assert cfg.trainer.init == "predictor-small" and cfg.model.net.n_layers == 3
    deeper = stage.build_model().eval()
    deeper.load_state_dict(read(cfg.trainer.init)["state_dict"])  # strict: the third block starts as identity
    shipped = load_model("predictor-small")[0].eval()
    assert len(shipped.net.blocks) == 2
    x = 0.1 * torch.randn(1, 16000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(deeper(x, 16000), shipped(x, 16000))


def test_small_deepfilter_config_starts_where_predictor_small_is():
    from gapse_core.checkpoints import load_model, read

    stage, cfg = load_stage("predictor", ROOT / "configs" / "predictor" / "small-deepfilter.yaml")
    assert cfg.trainer.init == "predictor-small" and cfg.model.output == "deep_filter"
    widened = stage.build_model().eval()
    widened.load_state_dict(read(cfg.trainer.init)["state_dict"])  # strict: the mask becomes tap t
    assert widened.net.head.out_channels == 2 * cfg.model.df_order
    shipped = load_model("predictor-small")[0].eval()
    x = 0.1 * torch.randn(1, 16000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = widened(x, 16000), shipped(x, 16000)
    assert torch.allclose(a, b, atol=1e-6) and b.abs().max() > 1e-2
