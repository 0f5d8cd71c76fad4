"""``gapse enhance | eval | simulate`` as a user runs them (subprocesses, real files)."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import stderr_on_a_terminal, write_bad_inputs
from gapse_core import metrics
from gapse_core.audio.resample import resample

ROOT = Path(__file__).resolve().parent.parent
RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000]  # 96 kHz: enhanced at 48 kHz


def gapse(*args, env_ckpt: Path | None = None, **kw):
    env = {**os.environ}
    if env_ckpt is not None:
        env["GAPSE_CHECKPOINTS"] = str(env_ckpt)
    return subprocess.run([sys.executable, "-m", "gapse_core.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env, **kw)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, speech16k):
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    for fs in RATES:
        x = resample(speech16k, 16000, fs)[: int(1.5 * fs)]
        sf.write(folder / f"r{fs}.wav", x + 0.02 * rng.standard_normal(len(x)), fs, subtype="FLOAT")
    x = speech16k[:16000]
    sf.write(folder / "stereo.flac", np.stack([x, 0.5 * x], 1), 16000)
    sf.write(folder / "six.wav", np.stack([x] * 6, 1), 16000, subtype="FLOAT")
    sf.write(folder / "speech.mp3", x, 16000)
    return folder


def test_enhance_every_rate_and_layout(inputs, tiny_checkpoint, tmp_path):
    files = sorted(inputs.iterdir())
    res = gapse("enhance", *files, "-o", tmp_path, "--save-branches", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 0, res.stderr
    for f in files:
        info_in = sf.info(f)
        out = tmp_path / (f.stem + (f.suffix if f.suffix in {".wav", ".flac", ".ogg", ".mp3"} else ".wav"))
        info_out = sf.info(out)
        assert info_out.samplerate == info_in.samplerate and info_out.channels == 1
        if f.suffix != ".mp3":  # mp3 frames pad the end; the decoder's length is what we compare elsewhere
            assert info_out.frames == info_in.frames, f
        assert (tmp_path / f"{f.stem}.predictive.wav").exists()
    assert res.stdout.count(" -> ") == len(files)


@pytest.mark.parametrize("system", ["gap-generative", "paragse"])
def test_enhance_with_a_generative_system_writes_its_branch(inputs, tiny_checkpoint, tmp_path, system):
    f = sorted(inputs.iterdir())[0]
    res = gapse("enhance", f, "-o", tmp_path, "--system", system, "--save-branches",
                env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 0, res.stderr
    branch = tmp_path / f"{f.stem}.generative.wav"
    assert branch.exists() and not (tmp_path / f"{f.stem}.predictive.wav").exists()
    assert sf.info(branch).frames == sf.info(f).frames


@pytest.mark.parametrize("system", ["paragse-fusion", "gap-urgenet", "hybrid"])
def test_enhance_with_a_fused_system_writes_both_branches(system, inputs, tiny_checkpoint, tmp_path):
    f = sorted(inputs.iterdir())[0]
    res = gapse("enhance", f, "-o", tmp_path, "--system", system, "--save-branches",
                env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 0, res.stderr
    final = sf.read(tmp_path / f"{f.stem}.wav", dtype="float32")[0]
    branches = [sf.read(tmp_path / f"{f.stem}.{b}.wav", dtype="float32")[0] for b in ("predictive", "generative")]
    assert all(b.shape == final.shape for b in branches)
    assert not np.allclose(final, branches[0]) and not np.allclose(final, branches[1])  # a mix of the two


def test_bad_inputs_one_line_each_and_good_ones_still_done(inputs, tiny_checkpoint, tmp_path):
    bad = tmp_path / "bad"
    reasons = write_bad_inputs(bad)
    good = inputs / "r16000.wav"
    names = list(reasons)
    args = [bad / n for n in names[:3]] + [good, bad / "missing.wav"] + [bad / n for n in names[3:]]
    res = gapse("enhance", *args, "-o", tmp_path / "out", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    errors = [l for l in res.stderr.splitlines() if l.startswith("gapse: error:")]
    assert len(errors) == 7
    for n, reason in {**reasons, "missing.wav": "no such file"}.items():
        line = [e for e in errors if f"{n}:" in e]
        assert len(line) == 1 and reason in line[0], (n, line)
    assert (tmp_path / "out" / "r16000.wav").exists()


def test_never_overwrites_an_input(inputs, tiny_checkpoint, tmp_path):
    folder = tmp_path / "same"
    folder.mkdir()
    src = folder / "r16000.wav"
    src.write_bytes((inputs / "r16000.wav").read_bytes())
    (folder / "r16000.enhanced.wav").write_bytes(src.read_bytes())  # an input with the fallback name too
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    res = gapse("enhance", *sorted(folder.iterdir()), "-o", folder, "--save-branches",
                env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 0, res.stderr
    for name, data in before.items():
        assert (folder / name).read_bytes() == data, f"{name} was overwritten"
    assert len(list(folder.glob("*.wav"))) == 2 + 4  # two inputs, two finals, two branch files


def test_out_may_name_the_file_for_one_input_but_not_for_several(inputs, tiny_checkpoint, tmp_path):
    src = inputs / "r16000.wav"
    res = gapse("enhance", src, "-o", tmp_path / "sub" / "clean.flac", "--save-branches",
                env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "sub" / "clean.flac"
    assert out.is_file() and sf.info(out).format == "FLAC" and sf.info(out).frames == sf.info(src).frames
    assert (tmp_path / "sub" / "clean.predictive.wav").is_file()
    # -o naming the input itself: written beside it, the input untouched
    copy = tmp_path / "in.wav"
    copy.write_bytes(src.read_bytes())
    res = gapse("enhance", copy, "-o", copy, env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 0, res.stderr
    assert copy.read_bytes() == src.read_bytes() and (tmp_path / "in.enhanced.wav").is_file()
    # two inputs and a file name: one clear line, nothing written
    res = gapse("enhance", src, inputs / "r8000.wav", "-o", tmp_path / "two.wav", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().startswith("gapse: error:") and "give a folder" in res.stderr
    assert not (tmp_path / "two.wav").exists()
    res = gapse("enhance", src, "-o", tmp_path / "out.opus", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 2 and "not .opus" in res.stderr and not (tmp_path / "out.opus").exists()
    # a new -o with a suffix of letters that is no audio format: one line, no folder of that name
    res = gapse("enhance", src, "-o", tmp_path / "clean.txt", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "not an audio file name" in res.stderr
    assert not (tmp_path / "clean.txt").exists()
    # an existing folder whose name ends in .wav stays a folder
    (tmp_path / "dir.wav").mkdir()
    res = gapse("enhance", src, "-o", tmp_path / "dir.wav", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 0 and (tmp_path / "dir.wav" / "r16000.wav").is_file()


def test_simulate_then_eval_agrees_with_direct_calls(data_dir, tiny_checkpoint, tmp_path):
    res = gapse("simulate", "--data", data_dir, "--out", tmp_path / "set", "--n", "2", "--preset", "denoise",
                "--seconds", "2")
    assert res.returncode == 0, res.stderr
    res = gapse("eval", tmp_path / "set", "--systems", "predictive", "--learned-quality",
                env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 0, res.stderr
    assert "| noisy |" in res.stdout and "| predictive |" in res.stdout
    assert "sqa_ovrl" in res.stdout and "Pearson r =" in res.stdout  # the learned metric and its agreement
    import csv

    rows = [r for r in csv.DictReader(open(tmp_path / "set" / "results" / "per_file.csv")) if r["condition"] == "noisy"]
    assert len(rows) == 2
    from pesq import pesq
    from pystoi import stoi
    from speechmos import dnsmos

    for r in rows:
        noisy, fs = sf.read(tmp_path / "set" / "noisy" / r["file"], dtype="float32")
        clean, _ = sf.read(tmp_path / "set" / "clean" / r["file"], dtype="float32")
        assert float(r["pesq"]) == pytest.approx(pesq(fs, clean, noisy, "wb"), abs=1e-4)
        assert float(r["estoi"]) == pytest.approx(stoi(clean, noisy, fs, extended=True), abs=1e-4)
        assert float(r["si_sdr"]) == pytest.approx(metrics.si_sdr(noisy, clean), abs=1e-4)
        assert float(r["dnsmos_ovrl"]) == pytest.approx(dnsmos.run(noisy.astype(np.float64), fs)["ovrl_mos"], abs=1e-4)
        learned = metrics.learned_quality(noisy, fs, model=str(tiny_checkpoint.parent / "quality-small.pt"))
        assert float(r["sqa_ovrl"]) == pytest.approx(learned["ovrl"], abs=1e-4)


def test_eval_with_peers_speaker_and_plots(data_dir, tiny_checkpoint, tmp_path):
    res = gapse("simulate", "--data", data_dir, "--out", tmp_path / "set", "--n", "2", "--preset", "each",
                "--seconds", "2")
    assert res.returncode == 0, res.stderr
    res = gapse("eval", tmp_path / "set", "--systems", "predictive", "--peers", "rnnoise,deepfilternet3",
                "--speaker", "--plots", "--no-dnsmos", "--lsd-band", "4000-8000", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 0, res.stderr
    for cond in ("noisy", "predictive", "rnnoise", "deepfilternet3"):
        assert f"| {cond} |" in res.stdout
    assert "| condition | pesq | estoi | si_sdr | lsd | lsd_4000-8000 |" in res.stdout  # beside the full-band LSD
    assert "speaker_sim" in res.stdout and "word error rate skipped" in res.stdout
    import json

    summary = json.loads((tmp_path / "set" / "results" / "summary.json").read_text())
    assert set(summary["by_group"]) == {"noise", "reverb"}  # the 'each' preset's first two conditions
    plots = tmp_path / "set" / "results" / "plots"
    assert {"metrics.png", "by_group_pesq.png", "spectrograms_0000.png"} <= {p.name for p in plots.iterdir()}
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000 for p in plots.iterdir())
    for r in csv.DictReader(open(tmp_path / "set" / "results" / "per_file.csv")):
        assert -1.0 <= float(r["speaker_sim"]) <= 1.0
        if r["condition"] == "noisy":
            noisy, fs = sf.read(tmp_path / "set" / "noisy" / r["file"], dtype="float32")
            clean, _ = sf.read(tmp_path / "set" / "clean" / r["file"], dtype="float32")
            assert float(r["lsd_4000-8000"]) == pytest.approx(metrics.lsd(noisy, clean, fs, band=(4000, 8000)), abs=1e-4)
    res = gapse("eval", tmp_path / "set", "--systems", "", "--no-dnsmos", "--lsd-band", "4k-8k")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "LOW-HIGH" in res.stderr
    res = gapse("eval", tmp_path / "set", "--systems", "", "--peers", "nope", "--no-dnsmos")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "unknown peer 'nope'" in res.stderr


def test_unknown_system_is_one_line(tmp_path):
    res = gapse("enhance", "x.wav", "-o", tmp_path, "--system", "nope")
    assert res.returncode == 2 and "invalid choice" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("args, error", [
    (("simulate", "--out", "SET", "--n", "0"), "argument --n: must be a finite number above 0, got 0"),
    (("simulate", "--out", "SET", "--seconds", "-1"), "argument --seconds: must be a finite number above 0"),
    (("simulate", "--out", "SET", "--seconds", "inf"), "argument --seconds: must be a finite number above 0"),
    (("simulate", "--out", "SET", "--n", "2.5"), "argument --n: expected a whole number, got '2.5'"),
    (("eval", "SET", "--limit", "0"), "argument --limit: must be a finite number above 0"),
    (("train", "predictor", "--out", "SET", "--steps", "0"), "argument --steps: must be a finite number above 0"),
])
def test_counts_and_lengths_must_be_positive(tmp_path, args, error):
    """--steps 0 used to train the config's own number of steps; --n 0 and --seconds 0 ended in numpy errors."""
    res = gapse(*[str(tmp_path / "set") if a == "SET" else a for a in args])
    assert res.returncode == 2 and error in res.stderr.strip().splitlines()[-1], res.stderr
    assert not (tmp_path / "set").exists()


def test_a_long_input_shows_a_progress_bar_on_a_terminal(tiny_checkpoint, tmp_path):
    """A bar of chunks on stderr for an input of a minute or more, when stderr is a terminal (a
    pseudo-terminal here); none for a short input, and none into a pipe or a log file. The long
    input is longer than one of the blocks a file is enhanced in: one bar counts them all."""
    from gapse_core.cli import PROGRESS_SECONDS
    from gapse_core.streaming import BLOCK_SECONDS

    rng = np.random.default_rng(0)
    env = {**os.environ, "GAPSE_CHECKPOINTS": str(tiny_checkpoint.parent)}
    long_seconds = max(PROGRESS_SECONDS, BLOCK_SECONDS) + 6  # two blocks
    for name, seconds in (("long.wav", long_seconds), ("short.wav", 5)):
        sf.write(tmp_path / name, 0.05 * rng.standard_normal(int(8000 * seconds)), 8000, subtype="FLOAT")
        code, terminal = stderr_on_a_terminal(["enhance", tmp_path / name, "-o", tmp_path / "out"], env, ROOT)
        assert code == 0, terminal
        bar = f"long.wav ({long_seconds / 60:.1f} min)".encode()
        assert (bar in terminal and b"%|" in terminal and b"block 2/2" in terminal) == (name == "long.wav"), terminal
        assert sf.info(tmp_path / "out" / name).frames == int(8000 * seconds)
        piped = gapse("enhance", tmp_path / name, "-o", tmp_path / "piped", env_ckpt=tiny_checkpoint.parent)
        assert piped.returncode == 0 and piped.stderr == "", piped.stderr


def test_the_demo_on_a_taken_port_or_a_bad_host_is_one_line():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = gapse("demo", "--port", port, timeout=120)
    assert res.returncode == 2 and res.stderr == f"gapse: error: could not serve the demo on 127.0.0.1:{port} " \
                                                 "(Address already in use)\n", res.stderr
    res = gapse("demo", "--host", "no-such-host.invalid", timeout=120)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "could not serve the demo on no-such-host" in res.stderr
    res = gapse("demo", "--port", "70000")
    assert res.returncode == 2 and "argument --port: a port is 1-65535, got 70000" in res.stderr


def test_a_wrong_checkpoint_is_one_line(tiny_checkpoint, tmp_path, speech16k):
    sf.write(tmp_path / "in.wav", speech16k[:8000], 16000)
    (tmp_path / "text.pt").write_text("not a checkpoint\n")
    vocoder = tiny_checkpoint.parent / "vocoder-small.pt"
    for path, reason in ((tmp_path / "text.pt", "text.pt: not a gapse checkpoint"),
                         (vocoder, "vocoder-small.pt: a vocoder checkpoint, not a predictor one")):
        res = gapse("enhance", tmp_path / "in.wav", "-o", tmp_path / "out", "--checkpoint", f"predictor={path}",
                    env_ckpt=tiny_checkpoint.parent)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and reason in res.stderr, res.stderr
        assert not (tmp_path / "out").exists()


def test_eval_scores_another_checkpoint_in_the_systems_with_its_role(data_dir, tiny_checkpoint, tmp_path):
    import torch

    from gapse_core.checkpoints import load_model, save_model

    res = gapse("simulate", "--data", data_dir, "--out", tmp_path / "set", "--n", "2", "--preset", "denoise",
                "--seconds", "2")
    assert res.returncode == 0, res.stderr
    model, _ = load_model(tiny_checkpoint.parent / "predictor-small.pt")
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5 * torch.randn_like(p))
    other = save_model(tmp_path / "other.pt", model, "predictor")

    def scores(*extra):
        out = tmp_path / f"res{len(extra)}"
        res = gapse("eval", tmp_path / "set", "--systems", "predictive,paragse", "--no-dnsmos", "--out", out,
                    *extra, env_ckpt=tiny_checkpoint.parent)
        assert res.returncode == 0, res.stderr
        return {(r["condition"], r["file"]): float(r["si_sdr"]) for r in csv.DictReader(open(out / "per_file.csv"))}

    shipped, swapped = scores(), scores("--checkpoint", f"predictor={other}")
    for key in shipped:
        if key[0] == "predictive":
            assert abs(shipped[key] - swapped[key]) > 0.01  # the other predictor ran
        else:
            assert shipped[key] == swapped[key]  # noisy and paragse (no predictor role) unchanged
    res = gapse("eval", tmp_path / "set", "--systems", "paragse", "--no-dnsmos",
                "--checkpoint", f"predictor={other}", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "predictor" in res.stderr


def test_enhance_a_folder_keeps_its_layout_and_never_its_own_output(inputs, tiny_checkpoint, tmp_path):
    src = tmp_path / "recordings"
    (src / "day1").mkdir(parents=True)
    (src / "day1" / "a.wav").write_bytes((inputs / "r16000.wav").read_bytes())
    (src / "b.flac").write_bytes((inputs / "stereo.flac").read_bytes())
    (src / "notes.txt").write_text("not audio")
    (src / ".hidden.wav").write_bytes((inputs / "r8000.wav").read_bytes())
    (tmp_path / "empty").mkdir()
    out = src / "enhanced"
    for _ in range(2):  # the second run must not pick up the first run's output inside the folder
        res = gapse("enhance", src, "-o", out, env_ckpt=tiny_checkpoint.parent)
        assert res.returncode == 0, res.stderr
        assert res.stdout.count(" -> ") == 2
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == ["b.flac", "day1/a.wav"]
    assert sf.info(out / "day1" / "a.wav").frames == sf.info(src / "day1" / "a.wav").frames
    # a folder with no audio: one line for it, the other input still enhanced, exit 1
    res = gapse("enhance", tmp_path / "empty", inputs / "r8000.wav", "-o", tmp_path / "o",
                env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "empty: a folder with no audio files" in res.stderr and (tmp_path / "o" / "r8000.wav").is_file()
    # a folder of several files (its own two and, now, the two in enhanced/) cannot go to one file name
    res = gapse("enhance", src, "-o", tmp_path / "one.wav", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 2 and "4 input files" in res.stderr and not (tmp_path / "one.wav").exists()


def test_eval_scores_a_plain_folder_of_recordings_without_a_reference(inputs, tiny_checkpoint, tmp_path):
    rec = tmp_path / "recordings"
    rec.mkdir()
    for name in ("r16000.wav", "r8000.wav"):
        (rec / name).write_bytes((inputs / name).read_bytes())
    (rec / "notes.txt").write_text("not audio")
    res = gapse("eval", rec, "--systems", "predictive", "--out", tmp_path / "report", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(open(tmp_path / "report" / "per_file.csv")))
    assert sorted({r["file"] for r in rows}) == ["r16000.wav", "r8000.wav"]
    assert {r["condition"] for r in rows} == {"noisy", "predictive"}
    from speechmos import dnsmos

    noisy = [r for r in rows if r["condition"] == "noisy" and r["file"] == "r16000.wav"][0]
    x, fs = sf.read(rec / "r16000.wav", dtype="float32")
    assert float(noisy["dnsmos_ovrl"]) == pytest.approx(dnsmos.run(x.astype(np.float64), fs)["ovrl_mos"], abs=1e-4)
    assert not noisy.get("pesq")  # no reference, no intrusive metric
    # a folder with neither noisy/ nor audio: one line
    (tmp_path / "nothing").mkdir()
    res = gapse("eval", tmp_path / "nothing", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 2 and res.stderr.startswith("gapse: error:") and "neither a noisy/ folder" in res.stderr
    # unreadable and over-long files are named in the report (not dropped in silence, never read whole);
    # all unreadable, or nothing to score: one line
    (rec / "broken.wav").write_text("not audio either")
    sf.write(rec / "long.wav", np.zeros(601 * 8000, np.int16), 8000, subtype="PCM_16")
    res = gapse("eval", rec, "--systems", "", "--out", tmp_path / "report2", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 0, res.stderr
    assert "skipped 2 unreadable or too long file(s) of 4: " in res.stdout
    assert "broken.wav: not a readable audio file" in res.stdout and "long.wav: too long (601 s" in res.stdout
    assert "skipped 2 unreadable" in (tmp_path / "report2" / "summary.md").read_text()
    rows = list(csv.DictReader(open(tmp_path / "report2" / "per_file.csv")))
    assert sorted({r["file"] for r in rows}) == ["r16000.wav", "r8000.wav"]
    (rec / "long.wav").unlink()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.wav").write_text("not audio")
    res = gapse("eval", tmp_path / "bad", "--systems", "", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "none of its 1 file(s) could be scored" in res.stderr
    res = gapse("eval", rec, "--systems", "", "--no-dnsmos", env_ckpt=tiny_checkpoint.parent)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "nothing to score" in res.stderr


def test_enhance_predictive_passes_runs_the_branch_again(inputs, tmp_path):
    """``--predictive-passes 2`` writes what ``Enhancer(predictive_passes=2)`` makes (the shipped
    predictor), which differs from one pass; 0 is refused with a one-line error."""
    from gapse_core.audio.io import load
    from gapse_core.systems import Enhancer

    src = inputs / "r16000.wav"
    res = gapse("enhance", src, "-o", tmp_path / "twice.wav", "--predictive-passes", "2")
    assert res.returncode == 0, res.stderr
    twice, _ = load(tmp_path / "twice.wav")
    x, fs = load(src)
    expected = Enhancer("predictive", device="cpu", predictive_passes=2).enhance(x, fs).final
    once = Enhancer("predictive", device="cpu").enhance(x, fs).final
    np.testing.assert_allclose(twice, expected, atol=2e-4)  # the file is 16-bit PCM or float: well within
    assert np.abs(twice - once).max() > 1e-3
    bad = gapse("enhance", src, "-o", tmp_path / "zero.wav", "--predictive-passes", "0")
    assert bad.returncode == 2 and "--predictive-passes" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "zero.wav").exists()
