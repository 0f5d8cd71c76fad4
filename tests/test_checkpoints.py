import os
import pickle

import pytest
import torch

from gapse_core import checkpoints
from gapse_core.models.predictor import Predictor, PredictorConfig
from gapse_core.nn.tfgridnet import TFGridNetConfig


def test_roundtrip_keeps_config_and_weights(tmp_path):
    cfg = PredictorConfig(win_ms=20.0, hop_ms=10.0, net=TFGridNetConfig(emb_dim=8, lstm_hidden=6, n_layers=1))
    model = Predictor(cfg)
    path = checkpoints.save_model(tmp_path / "m.pt", model, "predictor", {"steps": 3})
    loaded, meta = checkpoints.load_model(path)
    assert meta == {"steps": 3}
    assert loaded.cfg == cfg
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k


def test_half_storage_halves_the_file_and_loads_into_float32(tmp_path):
    torch.manual_seed(0)
    model = Predictor(PredictorConfig(net=TFGridNetConfig(emb_dim=16, lstm_hidden=16, n_layers=1)))
    full = checkpoints.save_model(tmp_path / "full.pt", model, "predictor", {"steps": 1})
    half = checkpoints.save_model(tmp_path / "half.pt", model, "predictor", {"steps": 1}, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded, meta = checkpoints.load_model(half)
    assert meta["stored_as"] == "float16"
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert b.dtype == a.dtype, k
        torch.testing.assert_close(b, a.half().float(), rtol=0, atol=0)  # exactly the rounded weights


def test_loading_never_runs_code(tmp_path):
    pwned = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.mkdir, (str(pwned),))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump({"format": checkpoints.FORMAT, "kind": "predictor", "payload": Evil()}, fh)
    with pytest.raises(ValueError, match="gapse never unpickles code") as err:
        checkpoints.load_model(path)
    assert "\n" not in str(err.value) and not pwned.exists()


def test_rejects_foreign_files(tmp_path):
    torch.save({"hello": torch.zeros(1)}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a gapse checkpoint"):
        checkpoints.load_model(tmp_path / "x.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoints.load_model("no-such-model")
    (tmp_path / "text.pt").write_text("not a checkpoint\n")
    good = checkpoints.save_model(tmp_path / "good.pt", Predictor(PredictorConfig()), "predictor")
    (tmp_path / "torn.pt").write_bytes(good.read_bytes()[:5000])
    for name in ("text.pt", "torn.pt"):  # torch.load's own messages run over many lines
        with pytest.raises(ValueError, match=f"{name}: not a gapse checkpoint") as err:
            checkpoints.load_model(tmp_path / name)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="good.pt: a predictor checkpoint, not a vocoder one"):
        checkpoints.load_model(good, kind="vocoder")
    assert isinstance(checkpoints.load_model(good, kind="predictor")[0], Predictor)


def test_registry_finds_shipped_names(tmp_path, monkeypatch, tiny_checkpoint):
    monkeypatch.setenv("GAPSE_CHECKPOINTS", str(tiny_checkpoint.parent))
    found = checkpoints.shipped()
    assert found["predictor-small"] == tiny_checkpoint
    assert set(found) == {"predictor-small", "dewavlm-small", "adapter-small", "vocoder-small", "codec-small",
                          "paragse-small", "fusion-paragse-small", "fusion-gap-small", "quality-small",
                          "postnet-gap-small", "codec-rvq-small", "hybrid-small", "fusion-hybrid-small"}
    model, _ = checkpoints.load_model("predictor-small")
    assert isinstance(model, Predictor) and not model.training


def test_shipped_checkpoints_are_small_and_load():
    found = checkpoints.shipped()
    assert "predictor-small" in found
    for name, path in found.items():
        assert path.stat().st_size < 8 * 2**20, f"{name} is larger than 8 MB"
        ckpt = checkpoints.read(path)
        assert ckpt["meta"].get("steps", 0) > 0, f"{name} has no training record"
        checkpoints.load_model(path)
