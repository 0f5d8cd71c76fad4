"""The demo through gradio_client: same result as the CLI, concurrency, bad uploads."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import write_bad_inputs
from gradio_client import Client, handle_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "noisy_allison_pink.wav"


@pytest.fixture(scope="module")
def client(server):
    return Client(server, verbose=False)


def enhance(client, path, system="predictive"):
    return client.predict(handle_file(str(path)), system, api_name="/enhance")


def test_demo_output_equals_cli_output(client, tiny_checkpoint, tmp_path):
    final, *_ , info = enhance(client, EXAMPLE)
    demo_y, demo_fs = sf.read(final, dtype="float32")
    env_cmd = [sys.executable, "-m", "gapse_core.cli", "enhance", str(EXAMPLE), "-o", str(tmp_path),
               "--checkpoint", f"predictor={tiny_checkpoint}"]
    res = subprocess.run(env_cmd, capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    cli_y, cli_fs = sf.read(tmp_path / EXAMPLE.name, dtype="float32")
    assert demo_fs == cli_fs and demo_y.shape == cli_y.shape
    np.testing.assert_allclose(demo_y, cli_y, atol=1e-6)
    assert "predictive" in info and "CPU" in info


def test_second_predictive_pass_through_the_demo(client, tiny_checkpoint):
    """The demo's second-pass box runs ``Enhancer(predictive_passes=2)``; off, the demo's output is one
    pass's, so the two differ (the default call above equals the CLI's one pass)."""
    from gapse_core.systems import Enhancer

    x, fs = sf.read(EXAMPLE, dtype="float32")
    final, *_, info = client.predict(handle_file(str(EXAMPLE)), "predictive", True, api_name="/enhance")
    y, _ = sf.read(final, dtype="float32")
    expected = Enhancer("predictive", device="cpu", checkpoints={"predictor": str(tiny_checkpoint)},
                        predictive_passes=2).enhance(x, fs).final
    np.testing.assert_allclose(y, expected, atol=1e-6)
    once = sf.read(enhance(client, EXAMPLE)[0], dtype="float32")[0]
    assert np.abs(once - y).max() > 1e-3
    assert "the predictive branch ran twice" in info
    # a system with no predictive branch ignores the box
    info = client.predict(handle_file(str(EXAMPLE)), "paragse", True, api_name="/enhance")[-1]
    assert "ran twice" not in info


@pytest.mark.parametrize("system", ["gap-generative", "paragse"])
def test_generative_system_through_the_demo(client, system):
    final, pred, gen, fused, _fig, table, info = enhance(client, EXAMPLE, system)
    y, fs = sf.read(final, dtype="float32")
    x, fs_in = sf.read(EXAMPLE, dtype="float32")
    assert fs == fs_in and y.shape == x.shape and np.isfinite(y).all()
    assert system in info and "generative" in info  # the stage timing names the branch
    assert not fused or fused.get("visible") is False  # no fusion in a single-branch system


def test_fused_system_through_the_demo(client):
    final, pred, gen, fused, _fig, table, info = enhance(client, EXAMPLE, "paragse-fusion")
    y, fs = sf.read(final, dtype="float32")
    x, fs_in = sf.read(EXAMPLE, dtype="float32")
    assert fs == fs_in and y.shape == x.shape and np.isfinite(y).all()
    for branch in (pred, gen):  # both branches are shown beside the fused output (gr.update dicts)
        path = branch["value"] if isinstance(branch, dict) else branch
        path = path["path"] if isinstance(path, dict) else path
        assert sf.read(path)[0].shape == x.shape
    assert "Fusion mask: mean M" in info and "fusion" in info  # the mask summary and the fusion stage's timing
    assert not fused or fused.get("visible") is False  # the fused signal is the final one: no second player
    assert [row[0] for row in table["data"]][-3:] == ["predictive branch", "generative branch",
                                                       "final (paragse-fusion)"]


def test_gap_urgenet_through_the_demo(client):
    final, pred, gen, fused, _fig, table, info = enhance(client, EXAMPLE, "gap-urgenet")
    y, fs = sf.read(final, dtype="float32")
    x, fs_in = sf.read(EXAMPLE, dtype="float32")
    assert fs == fs_in and y.shape == x.shape and np.isfinite(y).all()
    assert "PostNet: both branches at 48 kHz" in info and "postnet" in info  # its summary and its stage timing
    assert "Fusion mask" not in info and (not fused or fused.get("visible") is False)
    assert [row[0] for row in table["data"]][-3:] == ["predictive branch", "generative branch",
                                                       "final (gap-urgenet)"]
    # this module's first gap-urgenet call loads its models: that time is named apart, not in the total
    assert "first use of gap-urgenet: its models loaded in" in info
    assert "first use" not in enhance(client, EXAMPLE, "gap-urgenet")[-1]  # the second call is warm


def test_ten_concurrent_requests(client, server, tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(10):
        p = tmp_path / f"c{i}.wav"
        sf.write(p, (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
        paths.append(p)
    jobs = [client.submit(handle_file(str(p)), "predictive", api_name="/enhance") for p in paths]
    outs = [j.result(timeout=300) for j in jobs]
    assert len(outs) == 10
    for out, p in zip(outs, paths):
        y, fs = sf.read(out[0])
        assert fs == 16000 and len(y) == 16000
    assert enhance(Client(server, verbose=False), EXAMPLE)[0]  # still serving


def test_bad_uploads_show_a_message_and_the_server_lives(client, server, tmp_path):
    for name, reason in write_bad_inputs(tmp_path).items():
        with pytest.raises(Exception) as err:
            enhance(client, tmp_path / name)
        assert reason in str(err.value), (name, str(err.value))
        assert "Traceback" not in str(err.value)
    assert enhance(client, EXAMPLE)[0]


def test_odd_but_valid_uploads_are_handled(client, tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(16000, np.float32), 16000)
    sf.write(tmp_path / "10ms.wav", (0.1 * np.ones(160)).astype(np.float32), 16000)
    hour = tmp_path / "hour.flac"
    with sf.SoundFile(hour, "w", 8000, 1, format="FLAC") as fh:  # 1 h, mostly digital silence (small file)
        block = np.zeros(8000 * 60, np.float32)
        block[:8000] = 0.1 * np.sin(2 * np.pi * 220 * np.arange(8000) / 8000)
        for _ in range(60):
            fh.write(block)
    out = enhance(client, tmp_path / "silent.wav")
    assert "silent" in out[-1]
    assert np.max(np.abs(sf.read(out[0])[0])) < 1e-3
    out = enhance(client, tmp_path / "10ms.wav")
    assert len(sf.read(out[0])[0]) == 160
    out = enhance(client, hour)
    y, fs = sf.read(out[0])
    assert fs == 8000 and len(y) == 60 * 8000 and "first 60 s" in out[-1]
    x, _ = sf.read(EXAMPLE, dtype="float32", frames=16000)
    sf.write(tmp_path / "96k.wav", np.repeat(x, 6), 96000, subtype="PCM_24")  # a studio rate, above the models' 48 kHz
    out = enhance(client, tmp_path / "96k.wav")
    y, fs = sf.read(out[0])
    assert fs == 96000 and len(y) == 96000 and np.max(np.abs(y)) > 1e-3 and "enhanced at 48000 Hz" in out[-1]


def test_playground_gives_a_reference_and_intrusive_metrics(server):
    client = Client(server, verbose=False)  # one session: the reference lives in its state
    clean = ROOT / "examples" / "clean_allison_pink.wav"
    noisy, made = client.predict(handle_file(str(clean)), "pink", 0, 0.3, "4000 Hz", 2, "mp3", 0.5, 5, 1,
                                 api_name="/degrade")
    assert "pink noise at 0 dB" in made and "RT60 0.3 s" in made
    y, fs = sf.read(noisy)
    c, _ = sf.read(clean)
    assert len(y) == len(c)
    out = enhance(client, noisy)
    table, info = out[-2], out[-1]
    assert "clean reference" in info
    rows = {r[0]: r for r in table["data"]}
    pesq = rows["input"][4]
    assert 1.0 <= float(pesq) <= 4.6  # an intrusive score exists
    lsd = {name: float(r[7]) for name, r in rows.items()}  # LSD (dB) against the clean clip
    assert lsd["input"] > 5.0 and min(lsd.values()) < lsd["input"]  # a 4 kHz limit, mp3, noise; enhanced is closer
    # an upload that is not the playground clip has no reference
    out = enhance(client, EXAMPLE)
    assert "No clean reference" in out[-1]


def test_a_blind_listening_test_through_the_demo(server, tmp_path):
    """Make a test from the shipped examples (with their clean files hidden among them), rate it, read the MOS."""
    client = Client(server, verbose=False)  # one session: the listener's place lives in its state
    made, chosen = client.predict([], ["predictive"], True, False, api_name="/listening_make")
    assert "3 clip(s) x 3 versions (input, predictive, clean)" in made
    name = chosen if isinstance(chosen, str) else chosen["value"]
    bad = tmp_path / "notes.wav"
    bad.write_text("just text")
    with pytest.raises(Exception, match="notes.wav: not a readable audio file") as err:
        client.predict([handle_file(str(bad))], ["predictive"], True, False, api_name="/listening_make")
    assert "/tmp" not in str(err.value)  # the upload's name, not the server's path
    with pytest.raises(Exception, match="listener name"):
        client.predict(name, "  ", api_name="/listening_start")
    out = client.predict(name, "ann", api_name="/listening_start")
    n_slots = len(client.view_api(print_info=False, return_format="dict")["named_endpoints"]
                  ["/listening_submit"]["parameters"])  # one rating per sample slot
    trials = 0
    while "Trial" in out[0]:
        players = [p.get("value") if isinstance(p, dict) else p for p in out[1:1 + n_slots]]  # (rows: layout)
        assert all(players[:3]) and not any(players[3:])  # input, predictive, clean: samples A-C, no more
        assert len({Path(p).name for p in players[:3]}) == 3
        with pytest.raises(Exception, match="missing: C"):
            client.predict("4 good", "2 poor", None, *[None] * (n_slots - 3), api_name="/listening_submit")
        out = client.predict("3 fair", "3 fair", "5 excellent", *[None] * (n_slots - 3),
                             api_name="/listening_submit")
        trials += 1
    assert trials == 3 and "rated all 3 trial(s)" in out[0]
    summary, csv_file = client.predict(name, api_name="/listening_results")
    assert "1 listener(s), 3 trial(s), 3 conditions" in summary
    rows = {line.split("|")[1].strip(): line for line in summary.splitlines() if line.startswith("| ")}
    assert {"input", "predictive", "clean"} <= set(rows)
    total = sum(float(rows[c].split("|")[3]) for c in ("input", "predictive", "clean"))
    assert total == pytest.approx(11.0)  # every trial's ratings (3 + 3 + 5) land on the three conditions
    import csv as _csv
    with open(csv_file["value"] if isinstance(csv_file, dict) else csv_file) as f:
        ratings = list(_csv.DictReader(f))
    assert len(ratings) == 9 and {r["listener"] for r in ratings} == {"ann"}
