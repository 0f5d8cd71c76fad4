"""Blind listening tests: the folder, the blinding, the ratings and the statistics."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gapse_core.listening import (CLEAN, INPUT, LISTENING_LEVEL, ListeningError, ListeningTest, create_test,
                                  list_tests)

ROOT = Path(__file__).resolve().parents[1]
FS = 16000


def speechlike(seconds: float, seed: int, fs: int = FS) -> np.ndarray:
    """Harmonic 'vowels' with a 4 Hz syllable envelope, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    f0 = 110 + 30 * seed
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 12))
    env = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2
    return (0.1 * x * env + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


class Halve:
    """A stand-in 'system' for the plan logic: the input at half its level (a real Enhancer is used below)."""

    def enhance(self, x, fs):
        class R:
            final = 0.5 * x
        return R()


@pytest.fixture
def clips(tmp_path):
    paths, refs = [], []
    for i in range(3):
        clean = speechlike(1.5, i)
        noisy = clean + 0.05 * np.random.default_rng(10 + i).standard_normal(clean.size).astype(np.float32)
        paths.append(tmp_path / f"noisy_{i}.wav")
        refs.append(tmp_path / f"clean_{i}.wav")
        sf.write(paths[-1], noisy, FS)
        sf.write(refs[-1], clean, FS)
    return paths, refs


def make(tmp_path, clips, **kw):
    paths, refs = clips
    kw.setdefault("references", refs)
    kw.setdefault("dnsmos", False)
    return create_test(tmp_path / "tests" / "t1", paths, ["predictive"], enhancer=lambda s: Halve(), **kw)


def test_a_test_folder_holds_every_condition_level_matched_and_blind(tmp_path, clips):
    test = make(tmp_path, clips)
    assert test.conditions == [INPUT, "predictive", CLEAN]
    assert list_tests(tmp_path / "tests") == ["t1"]
    again = ListeningTest.open(tmp_path / "tests" / "t1")
    assert again.conditions == test.conditions and len(again.trials) == 3
    names = set()
    for trial, clip in zip(again.trials, clips[0]):
        assert trial.clip == clip.name and trial.fs == FS and trial.seconds == pytest.approx(1.5)
        for s in trial.stimuli:
            y, fs = sf.read(again.root / s.path, dtype="float32")
            assert fs == FS and len(y) == int(1.5 * FS)
            assert np.sqrt(np.mean(y**2)) == pytest.approx(LISTENING_LEVEL, rel=1e-3)  # same loudness
            names.add(Path(s.path).name)
            assert not any(c in s.path for c in ("predictive", "clean", "input", "noisy"))  # opaque names
    assert len(names) == 9
    # the predictive stimulus is the (level-matched) system output, the clean one the reference
    p = sf.read(again.stimulus_path(0, "predictive"))[0]
    ref = sf.read(clips[1][0])[0]
    c = sf.read(again.stimulus_path(0, CLEAN))[0]
    assert np.corrcoef(c, ref)[0, 1] > 0.9999
    noisy = sf.read(clips[0][0])[0]
    assert np.corrcoef(p, noisy)[0, 1] > 0.9999  # Halve: the input, scaled


def test_orders_are_per_listener_and_trial_and_ratings_land_on_the_right_condition(tmp_path, clips):
    test = make(tmp_path, clips)
    orders = {(w, t): [s.condition for s in test.order(w, t)] for w in ("ann", "bob", "cy", "dee") for t in range(3)}
    assert orders[("ann", 1)] == [s.condition for s in test.order("ann", 1)]  # stable
    assert len({tuple(o) for o in orders.values()}) > 1  # shuffled
    # 'ann' gives the clean reference 5, the system 3 and the input 1 in every trial, whatever the order
    want = {CLEAN: 5, "predictive": 3, INPUT: 1}
    for t in range(3):
        labels = ListeningTest.labels(3)
        test.record("ann", t, {lab: want[s.condition] for lab, s in zip(labels, test.order("ann", t))})
    # 'bob' rates two trials, the first twice: the latest rating counts
    for t, bump in ((0, 0), (0, 1), (1, 1)):
        order = test.order("bob", t)
        test.record("  bob ", t, {lab: f"{min(5, want[s.condition] + bump)} x"
                                  for lab, s in zip("ABC", order)})
    assert test.next_trial("ann") is None and test.next_trial("bob") == 2 and test.next_trial("new") == 0
    summary = {c.condition: c for c in test.summary()}
    # input: ann 1,1,1 + bob 2,2 -> 7/5; clean: ann 5,5,5 + bob 5,5; predictive: 3,3,3 + 4,4
    assert summary[INPUT].n == 5 and summary[INPUT].mos == pytest.approx(7 / 5)
    assert summary[CLEAN].mos == pytest.approx(5.0) and summary[CLEAN].ci95 == pytest.approx(0.0)
    s = np.array([3, 3, 3, 4, 4.0])
    from scipy import stats
    assert summary["predictive"].mos == pytest.approx(3.4)
    assert summary["predictive"].ci95 == pytest.approx(stats.t.ppf(0.975, 4) * s.std(ddof=1) / np.sqrt(5))
    assert test.listeners() == ["ann", "bob"]
    md = test.summary_markdown()
    assert "| predictive | 5 | 3.40 |" in md and "2 listener(s)" in md
    with open(test.root / "ratings.csv") as f:
        assert len(list(csv.DictReader(f))) == 9 + 9  # every submission appended, nothing rewritten


def test_bad_ratings_and_bad_tests_are_refused_in_one_line(tmp_path, clips):
    test = make(tmp_path, clips)
    with pytest.raises(ListeningError, match="missing: C"):
        test.record("ann", 0, {"A": 3, "B": 4})
    with pytest.raises(ListeningError, match="must be 1-5"):
        test.record("ann", 0, {"A": 3, "B": 4, "C": 6})
    with pytest.raises(ListeningError, match="must be 1-5"):
        test.record("ann", 0, {"A": 3, "B": 4, "C": "great"})
    for odd in ("inf", "nan", 3.5, 0):
        with pytest.raises(ListeningError, match="must be 1-5"):
            test.record("ann", 0, {"A": 3, "B": 4, "C": odd})
    with pytest.raises(ListeningError, match="listener name"):
        test.record("  ", 0, {"A": 3, "B": 4, "C": 3})
    with pytest.raises(ListeningError, match="does not exist"):
        test.record("ann", 7, {"A": 3, "B": 4, "C": 3})
    assert not (test.root / "ratings.csv").exists()
    with pytest.raises(ListeningError, match="not empty"):  # never over an existing folder
        make(tmp_path, clips)
    with pytest.raises(ListeningError, match="unknown system"):
        create_test(tmp_path / "x", clips[0], ["nope"])
    with pytest.raises(ListeningError, match="at least two conditions"):
        create_test(tmp_path / "x", clips[0], ["predictive"], include_input=False, enhancer=lambda s: Halve())
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(FS, np.float32), FS)
    with pytest.raises(ListeningError, match="silent"):
        create_test(tmp_path / "y", [silent], ["predictive"], enhancer=lambda s: Halve())
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with pytest.raises(ListeningError, match="not a readable audio file"):
        create_test(tmp_path / "z", [clips[0][0], text], ["predictive"], enhancer=lambda s: Halve())
    assert not (tmp_path / "z").exists() and not (tmp_path / "y").exists()  # all or nothing
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no half-made folder left
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "test.json").write_text("{}")
    with pytest.raises(ListeningError, match="not a valid"):
        ListeningTest.open(tmp_path / "broken")
    plan = json.loads((test.root / "test.json").read_text())
    plan["trials"][0]["stimuli"][0]["path"] = "../../secret.wav"
    (tmp_path / "broken" / "test.json").write_text(json.dumps(plan))
    with pytest.raises(ListeningError, match="leaves the test folder"):
        ListeningTest.open(tmp_path / "broken")


def test_a_real_system_and_dnsmos_through_the_cli(tmp_path, clips, tiny_checkpoint, monkeypatch):
    """`gapse listen create` with the (tiny) predictive system and DNSMOS, then `summary` of real ratings."""
    monkeypatch.setenv("GAPSE_CHECKPOINTS", str(tiny_checkpoint.parent))
    paths, refs = clips
    out = tmp_path / "cli-test"
    cmd = [sys.executable, "-m", "gapse_core.cli", "listen", "create", *map(str, paths[:2]), "--systems",
           "predictive", "--out", str(out), "--references", str(refs[0].parent), "--device", "cpu"]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert "2 trial(s) x 3 conditions (input, predictive, clean)" in res.stdout
    plan = json.loads((out / "test.json").read_text())
    ovrl = {s["condition"]: s["dnsmos_ovrl"] for s in plan["trials"][0]["stimuli"]}
    assert all(1.0 <= v <= 5.0 for v in ovrl.values())
    test = ListeningTest.open(out)
    for t in range(2):  # a listener who agrees with DNSMOS's ranking
        order = test.order("eve", t)
        ranks = np.argsort(np.argsort([s.dnsmos_ovrl for s in order]))
        test.record("eve", t, {lab: int(1 + 2 * r) for lab, r in zip("ABC", ranks)})
    res = subprocess.run([sys.executable, "-m", "gapse_core.cli", "listen", "summary", str(out)],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert "| clean | 2 |" in res.stdout and "1 listener(s), 2 trial(s), 3 conditions" in res.stdout
    r = float(res.stdout.split("r = ")[1].split()[0])
    assert r > 0.5  # ratings that follow DNSMOS's order correlate with it
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)  # the folder exists now
    assert again.returncode == 2 and again.stderr.strip().count("\n") == 0 and "not empty" in again.stderr


def test_listen_create_shows_a_bar_of_enhancements_on_a_terminal(tmp_path, clips, tiny_checkpoint):
    """On a terminal (and without -v), `gapse listen create` draws one bar over every clip x system."""
    from conftest import stderr_on_a_terminal

    env = {**os.environ, "GAPSE_CHECKPOINTS": str(tiny_checkpoint.parent)}
    paths, _ = clips
    code, terminal = stderr_on_a_terminal(["listen", "create", *paths[:2], "--systems", "predictive,paragse",
                                           "--out", tmp_path / "t", "--no-dnsmos", "--device", "cpu"], env, ROOT)
    assert code == 0, terminal
    assert b"gapse listen create" in terminal and b"/4 [" in terminal, terminal  # 2 clips x 2 systems
    assert b"clip 2/2: paragse" in terminal, terminal


def test_an_evaluation_set_folder_gives_its_clips_and_clean_references(tmp_path, clips):
    from gapse_core.cli import _listening_inputs

    for sub in ("noisy", "clean"):
        (tmp_path / "set" / sub).mkdir(parents=True)
    for i, (n, c) in enumerate(zip(*clips)):
        (tmp_path / "set" / "noisy" / f"{i:04d}.wav").write_bytes(n.read_bytes())
        if i < 2:  # the third has no reference
            (tmp_path / "set" / "clean" / f"{i:04d}.wav").write_bytes(c.read_bytes())
    found, refs = _listening_inputs([str(tmp_path / "set")], None, None)
    assert [p.name for p in found] == ["0000.wav", "0001.wav", "0002.wav"]
    assert [r.name if r else None for r in refs] == ["0000.wav", "0001.wav", None]
    assert [p.name for p in _listening_inputs([str(tmp_path / "set")], None, 2)[0]] == ["0000.wav", "0001.wav"]
    with pytest.raises(ValueError, match="no such file"):
        _listening_inputs([str(tmp_path / "nope.wav")], None, None)
    # a reference missing for one clip: no hidden 'clean' condition, rather than an uneven test
    test = create_test(tmp_path / "t", found, ["predictive"], references=refs, dnsmos=False,
                       enhancer=lambda s: Halve())
    assert test.conditions == [INPUT, "predictive"]
