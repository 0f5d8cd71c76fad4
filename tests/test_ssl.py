"""The WavLM-architecture SSL encoder: frames, normalised representations, packet-loss masking, and
loading a save_pretrained WavLM folder through the same loader as gapse's own checkpoints."""

import pytest
import torch

from gapse_core import checkpoints
from gapse_core.models.ssl import SSLConfig, SSLEncoder, frames

TINY = SSLConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, conv_dim=32,
                 conv_pos_kernel=8, conv_pos_groups=4)


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return SSLEncoder(TINY).eval()


def test_fifty_hertz_frames_and_layer_normed_outputs(encoder):
    wave = torch.randn(2, 16000)
    with torch.no_grad():
        f = encoder(wave)
    assert frames(16000) == 49 and frames(399) == 0
    assert len(f.hidden) == TINY.num_layers + 1
    assert f.acoustic.shape == f.phonetic.shape == (2, 49, 32)
    for rep in (f.acoustic, f.phonetic):  # layer norm without parameters: zero mean, unit variance per frame
        assert rep.mean(-1).abs().max() < 1e-4 and (rep.var(-1, unbiased=False) - 1).abs().max() < 1e-2
    torch.testing.assert_close(f.phonetic, torch.nn.functional.layer_norm(f.hidden[-1], (32,)))


def test_level_invariance(encoder):
    wave = torch.randn(1, 8000)
    with torch.no_grad():
        a, b = encoder(wave).phonetic, encoder(0.01 * wave).phonetic
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_mask_embedding_replaces_only_the_flagged_frames_before_the_transformer(encoder):
    wave = torch.randn(1, 16000)
    mask = torch.zeros(1, 49, dtype=torch.bool)
    mask[0, 10:15] = True
    with torch.no_grad():
        plain, masked = encoder(wave), encoder(wave, mask)
    assert torch.equal(plain.hidden[0], encoder(wave, torch.zeros_like(mask)).hidden[0])
    # the transformer mixes frames, so masking changes the masked frames most
    d = (plain.phonetic - masked.phonetic).abs().mean(-1)[0]
    assert d[10:15].mean() > 3 * torch.cat([d[:5], d[-5:]]).mean()


def test_gapse_checkpoint_round_trip(encoder, tmp_path):
    path = checkpoints.save_model(tmp_path / "ssl.pt", encoder, "ssl", {"note": "test"})
    loaded, meta = checkpoints.load_model(path)
    wave = torch.randn(1, 12000)
    with torch.no_grad():
        torch.testing.assert_close(loaded(wave).phonetic, encoder(wave).phonetic)
    assert meta == {"note": "test"}


def test_a_save_pretrained_wavlm_folder_loads_through_the_same_loader(tmp_path):
    from transformers import WavLMConfig, WavLMModel

    torch.manual_seed(1)
    cfg = WavLMConfig(hidden_size=48, num_hidden_layers=3, num_attention_heads=4, intermediate_size=96,
                      conv_dim=(40,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    ref = WavLMModel(cfg).eval()
    ref.save_pretrained(tmp_path / "wavlm")  # config.json + model.safetensors, as a user's WavLM-Base+ would be
    enc, meta = checkpoints.load_model(tmp_path / "wavlm")
    assert isinstance(enc, SSLEncoder) and enc.cfg.hidden_size == 48 and enc.cfg.num_layers == 3
    wave = torch.randn(1, 16000)
    x = (wave - wave.mean()) / (wave.std() + 1e-5)
    with torch.no_grad():
        expected = ref(x, output_hidden_states=True).hidden_states
        got = enc(wave).hidden
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e)
    # and it can be re-saved as a gapse checkpoint and loaded back
    path = checkpoints.save_model(tmp_path / "from_wavlm.pt", enc, "ssl")
    again, _ = checkpoints.load_model(path)
    with torch.no_grad():
        torch.testing.assert_close(again(wave).phonetic, enc(wave).phonetic)


def test_folders_that_are_not_safe_wavlm_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a save_pretrained WavLM"):
        checkpoints.load_model(tmp_path / "empty")
    (tmp_path / "binonly").mkdir()
    (tmp_path / "binonly" / "config.json").write_text('{"model_type": "wavlm"}')
    (tmp_path / "binonly" / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ValueError, match="safetensors only"):
        checkpoints.load_model(tmp_path / "binonly")
