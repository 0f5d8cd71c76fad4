"""The token branches: group and residual VQ, the codec (shapes, token round trip, training stage) and
ParaGSE's parallel token predictor over a frozen codec."""

import csv
import warnings
from pathlib import Path

import pytest
import torch

from conftest import TINY_CODEC, TINY_PARAGSE
from gapse_core.models.codec import Codec, CodecConfig
from gapse_core.nn.quantizers import Quantizer, QuantizerConfig
from gapse_core.nn.vocos import VocosConfig
from gapse_core.train.codec import codebook_usage

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("kind", ["group", "residual"])
def test_codes_decode_to_the_quantized_latent(kind):
    torch.manual_seed(0)
    q = Quantizer(QuantizerConfig(kind=kind, dim=16, streams=4, codebook_size=32)).eval()
    out = q(torch.randn(2, 30, 16))
    assert out.codes.shape == (2, 30, 4) and out.codes.dtype == torch.int64
    assert int(out.codes.max()) < 32
    torch.testing.assert_close(q.decode(out.codes), out.quantized)
    assert q.bitrate(50) == 4 * 5 * 50  # 4 streams x log2(32) bits x 50 Hz


def test_group_vq_streams_are_independent():
    """Changing one group's token changes only that group's slice of the latent (what makes parallel prediction possible)."""
    torch.manual_seed(0)
    q = Quantizer(QuantizerConfig(kind="group", dim=16, streams=4, codebook_size=32)).eval()
    codes = q(torch.randn(1, 10, 16)).codes
    other = codes.clone()
    other[..., 2] = (other[..., 2] + 1) % 32
    diff = (q.decode(codes) - q.decode(other)).abs().sum((0, 1))
    assert diff[8:12].min() > 0 and diff[:8].max() == 0 and diff[12:].max() == 0


def test_residual_vq_second_layer_refines_the_first():
    torch.manual_seed(0)
    q = Quantizer(QuantizerConfig(kind="residual", dim=8, streams=3, codebook_size=16, cosine=False))
    x = torch.randn(4, 200, 8)
    for _ in range(20):  # let the EMA codebooks move onto the data
        q(x)
    q.eval()
    out = q(x)
    partial = [q.vq.layers[0].get_output_from_indices(out.codes[..., 0])]
    err_first = (x - partial[0]).pow(2).mean()
    err_all = (x - out.quantized).pow(2).mean()
    assert err_all < err_first


def test_codebook_usage_is_normalised_perplexity():
    uniform = torch.arange(64).repeat(10)[:, None]
    assert codebook_usage(uniform, 64) == pytest.approx([1.0])
    collapsed = torch.zeros(100, 1, dtype=torch.long)
    assert codebook_usage(collapsed, 64) == pytest.approx([1 / 64])


def test_codec_shapes_and_token_round_trip():
    torch.manual_seed(0)
    cfg = CodecConfig(encoder=VocosConfig(input_dim=80, dim=16, intermediate_dim=32, n_layers=1),
                      quantizer=QuantizerConfig(dim=8, streams=2, codebook_size=16),
                      decoder=VocosConfig(input_dim=8, dim=16, intermediate_dim=32, n_layers=1))
    codec = Codec(cfg).eval()
    assert codec.frame_rate == 50 and codec.bitrate == 2 * 4 * 50
    for n in (16000, 16001, 3000):
        wave = torch.randn(1, n) * 0.1
        y, q = codec(wave)
        assert y.shape == (1, n) and q.codes.shape == (1, codec.n_tokens(n), 2)
        torch.testing.assert_close(codec.decode(q.codes, n), y)


def test_codec_stage_trains_and_reports_bitrate_and_usage(data_dir, tmp_path):
    from gapse_core.train.run import run

    out = tmp_path / "codec"
    final = run("codec", ROOT / "configs" / "codec" / "tiny.yaml", out,
                {"data.path": str(data_dir), "trainer.steps": 14, "trainer.val_every": 14}, device="cpu")
    rows = [r for r in csv.DictReader(open(out / "log.csv")) if r.get("mel")]
    assert float(rows[-1]["mel"]) < float(rows[0]["mel"])
    assert all(r.get("commit") for r in rows) and any(r.get("d_loss") for r in rows)
    assert final["kbps"] == pytest.approx(2 * 4 * 50 / 1000)
    assert 0 < final["codebook_usage"] <= 1 and {"pesq", "estoi", "ovrl"} <= set(final)



def test_a_residual_codec_starts_from_a_group_codecs_encoder_and_decoder(data_dir, tmp_path):
    """``trainer.init_partial`` takes the tensors whose names and shapes match (how codec-rvq-small
    started from codec-small); a strict init of a different quantizer fails."""
    from gapse_core.checkpoints import load_model, save_model
    from gapse_core.train.run import load_stage, run

    torch.manual_seed(0)
    group = Codec(load_stage("codec", ROOT / "configs" / "codec" / "tiny.yaml")[1].model)
    init = save_model(tmp_path / "group.pt", group, "codec")
    over = {"data.path": str(data_dir), "trainer.steps": 1, "trainer.val_every": 0, "optim.lr": 0.0,
            "model.quantizer.kind": "residual", "trainer.init": str(init), "trainer.init_partial": True}
    run("codec", ROOT / "configs" / "codec" / "tiny.yaml", tmp_path / "rvq", over, device="cpu")
    rvq, _ = load_model(tmp_path / "rvq" / "model.pt")
    assert rvq.cfg.quantizer.kind == "residual"
    for name in ("encoder", "decoder", "head", "to_latent"):
        for (k, a), b in zip(getattr(rvq, name).state_dict().items(), getattr(group, name).state_dict().values()):
            torch.testing.assert_close(a, b, msg=f"{name}.{k}")
    with pytest.raises(RuntimeError, match="state_dict"):
        run("codec", ROOT / "configs" / "codec" / "tiny.yaml", tmp_path / "strict",
            {**over, "trainer.init_partial": False}, device="cpu")


def test_a_decoder_fine_tune_keeps_the_frozen_encoder_and_codebooks_exactly(data_dir, tmp_path):
    """``trainer.freeze`` (how the codec's decoder was fine-tuned under ParaGSE's fixed tokens):
    the named submodules keep every tensor, codebook EMA buffers included, while the rest learns."""
    from gapse_core.checkpoints import load_model, save_model
    from gapse_core.train.run import load_stage, run

    torch.manual_seed(0)
    codec = Codec(load_stage("codec", ROOT / "configs" / "codec" / "tiny.yaml")[1].model)
    init = save_model(tmp_path / "init.pt", codec, "codec")
    frozen = ["encoder", "down", "to_latent", "quantizer"]
    run("codec", ROOT / "configs" / "codec" / "tiny.yaml", tmp_path / "dec",
        {"data.path": str(data_dir), "trainer.steps": 3, "trainer.val_every": 0, "trainer.init": str(init),
         "trainer.freeze": frozen, "optim.warmup_steps": 1}, device="cpu")
    tuned, _ = load_model(tmp_path / "dec" / "model.pt")
    before, after = codec.state_dict(), tuned.state_dict()
    for k, v in before.items():
        if k.split(".")[0] in frozen:
            torch.testing.assert_close(after[k], v, rtol=0, atol=0, msg=k)
    assert any(k.startswith("quantizer") and v.dtype.is_floating_point for k, v in before.items())
    assert max((after[k] - v).abs().max().item() for k, v in before.items() if k.startswith("decoder")) > 1e-4
    with pytest.raises(ValueError, match="no submodule 'no_such_module'.*encoder"):
        run("codec", ROOT / "configs" / "codec" / "tiny.yaml", tmp_path / "bad",
            {"data.path": str(data_dir), "trainer.steps": 1, "trainer.val_every": 0,
             "trainer.freeze": ["no_such_module"]}, device="cpu")


def test_paragse_parallel_and_serial_prediction_agree():
    from gapse_core.models.paragse import ParaGSE
    from gapse_core.train.run import load_stage

    _, cfg = load_stage("paragse", ROOT / "configs" / "paragse" / "tiny.yaml")
    torch.manual_seed(0)
    model = ParaGSE(cfg.model).eval()
    codec = Codec(TINY_CODEC).eval()
    wave = torch.randn(2, 16000 + 77) * 0.1
    codes = codec.tokens(wave)
    logits = model(wave, codes)
    assert logits.shape == (2, codec.n_tokens(wave.shape[-1]), 2, 16)
    assert torch.equal(model.predict(wave, codes, "parallel"), model.predict(wave, codes, "serial"))
    with pytest.raises(ValueError):
        model.predict(wave, codes, "sideways")


def test_paragse_stage_learns_tokens_of_a_frozen_codec(data_dir, tmp_path):
    from gapse_core.checkpoints import load_model, save_model
    from gapse_core.train.run import run

    torch.manual_seed(0)
    codec_path = save_model(tmp_path / "codec.pt", Codec(TINY_CODEC), "codec")
    out = tmp_path / "pg"
    final = run("paragse", ROOT / "configs" / "paragse" / "tiny.yaml", out,
                {"codec": str(codec_path), "data.path": str(data_dir)}, device="cpu")
    rows = [r for r in csv.DictReader(open(out / "log.csv")) if r.get("loss")]
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert 0 <= final["token_acc"] <= 1 and 0 <= final["copy_acc"] <= 1
    model, _ = load_model(out / "model.pt")
    assert type(model).__name__ == "ParaGSE"
    residual = save_model(tmp_path / "rvq.pt", Codec(CodecConfig(
        encoder=TINY_CODEC.encoder, decoder=TINY_CODEC.decoder,
        quantizer=QuantizerConfig(kind="residual", dim=8, streams=2, codebook_size=16))), "codec")
    with pytest.raises(ValueError, match="group-VQ"):
        run("paragse", ROOT / "configs" / "paragse" / "tiny.yaml", tmp_path / "pg2",
            {"codec": str(residual), "data.path": str(data_dir), "trainer.steps": 1}, device="cpu")


def test_paragse_decoder_stage_adapts_only_the_decoder_to_predicted_tokens(data_dir, tmp_path):
    """The decoder learns from predicted tokens of degraded speech; the tokens themselves never change."""
    from gapse_core.checkpoints import load_model, save_model
    from gapse_core.models.paragse import ParaGSE
    from gapse_core.train.run import load_stage, run

    torch.manual_seed(0)
    codec = Codec(TINY_CODEC).eval()
    codec_path = save_model(tmp_path / "codec.pt", codec, "codec")
    predictor = ParaGSE(TINY_PARAGSE).eval()
    predictor_path = save_model(tmp_path / "paragse.pt", predictor, "paragse")
    config = ROOT / "configs" / "paragse" / "decoder-tiny.yaml"
    paths = {"codec": str(codec_path), "predictor": str(predictor_path), "data.path": str(data_dir)}

    # the batch is split: predicted tokens of the degraded speech first, the clean speech's own tokens after
    degraded, clean = torch.randn(4, 8000) * 0.1, torch.randn(4, 8000) * 0.1
    stage, _ = load_stage("paragse_decoder", config, {**paths, "p_predicted": 0.5})
    model = stage.build_model().eval()
    with torch.no_grad():
        fake = stage.generate(model, (degraded, clean), torch.device("cpu"))["fake"]
        predicted = predictor.predict(degraded[:2], codec.tokens(degraded[:2]))
        torch.testing.assert_close(fake[:2], codec.decode(predicted, 8000))
        torch.testing.assert_close(fake[2:], codec(clean[2:])[0])
        assert float((fake[:2] - codec(degraded[:2])[0]).abs().max()) > 1e-3  # not the degraded speech's own tokens

    out = tmp_path / "dec"
    final = run("paragse_decoder", config, out, paths, device="cpu")
    rows = [r for r in csv.DictReader(open(out / "log.csv")) if r.get("loss")]
    assert float(rows[-1]["mel"]) < float(rows[0]["mel"])
    assert {"pesq", "ovrl", "copy_pesq", "copy_ovrl", "score"} <= set(final)
    adapted, _ = load_model(out / "model.pt")
    assert isinstance(adapted, Codec)
    before, after = codec.state_dict(), adapted.state_dict()
    token_path = [k for k in before if k.split(".")[0] in ("encoder", "down", "to_latent", "quantizer")]
    assert token_path and all(torch.equal(before[k], after[k]) for k in token_path)  # codebook EMA included
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    wave = torch.randn(1, 8000) * 0.1
    assert torch.equal(codec.tokens(wave), adapted.tokens(wave))  # the predictor's targets are unchanged


def test_token_lm_kv_cache_decoding_matches_teacher_forcing():
    """Greedy decoding with the KV cache must give exactly what the full forward pass predicts on its output."""
    from gapse_core.models.token_lm import TokenLM, TokenLMConfig

    torch.manual_seed(0)
    lm = TokenLM(TokenLMConfig(ssl_dim=16, dim=32, layers=2, heads=4, intermediate=64, codebook_size=20)).eval()
    ssl = torch.randn(2, 12, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the cache is passed under the installed version's own name
        tokens, hidden = lm.generate(ssl)
    assert tokens.shape == (2, 12) and hidden.shape == (2, 12, 32) and int(tokens.max()) < 20
    with torch.no_grad():
        logits, hidden_tf = lm(ssl, tokens)
    assert torch.equal(logits.argmax(-1), tokens)
    torch.testing.assert_close(hidden_tf, hidden, atol=1e-5, rtol=1e-5)


def test_hybrid_dprnn_mask_depends_on_the_lm_hidden_states():
    from gapse_core.models.hybrid_mask import HybridMask, HybridMaskConfig

    torch.manual_seed(0)
    cfg = HybridMaskConfig(n_fft=128, hop=64, channels=8, freq_down=2, blocks=1, lstm_hidden=8, lm_dim=16, heads=2)
    model = HybridMask(cfg).eval()
    wave = torch.randn(1, 8000 + 13) * 0.1
    with torch.no_grad():
        y, mask = model(wave, torch.randn(1, 26, 16))
        _, mask2 = model(wave, torch.randn(1, 26, 16))
    assert y.shape == wave.shape and mask.shape[1] == 65 and mask.is_complex()
    assert float(mask.abs().max()) < 1.0  # a bounded mask
    assert float((mask - mask2).abs().mean()) > 1e-4  # the cross-attention to the LM steers it


def test_paragse_branch_runs_at_any_rate_and_undoes_its_level_gain():
    """The branch scales its input to the training level and back, so its output follows the
    input's level exactly, and it returns the input's rate and length."""
    import numpy as np

    from gapse_core.models.paragse import ParaGSE
    from gapse_core.models.paragse_generative import ParaGSEGenerative

    torch.manual_seed(0)
    branch = ParaGSEGenerative(Codec(TINY_CODEC).eval(), ParaGSE(TINY_PARAGSE).eval())
    rng = np.random.default_rng(0)
    for fs in (8000, 16000, 48000):
        x = (0.05 * rng.standard_normal(int(0.7 * fs) + 13)).astype(np.float32)
        y = branch.enhance(x, fs)
        assert y.shape == x.shape and y.dtype == np.float32 and np.all(np.isfinite(y))
        assert np.std(y) > 0
        np.testing.assert_allclose(branch.enhance(x * 8, fs), 8 * y, rtol=1e-3, atol=1e-6)
    bad = Codec(CodecConfig(encoder=TINY_CODEC.encoder, decoder=TINY_CODEC.decoder,
                            quantizer=QuantizerConfig(kind="residual", dim=8, streams=2, codebook_size=16)))
    with pytest.raises(ValueError, match="group"):
        ParaGSEGenerative(bad, ParaGSE(TINY_PARAGSE))


def test_paragse_system_decodes_the_predicted_tokens(tiny_checkpoint, speech16k):
    """The ``paragse`` system is codec.decode(predict(tokens(x))) at the training level (each
    stretch of ``x`` first at its own level, as the Enhancer runs every stage)."""
    import numpy as np

    from gapse_core.audio.level import local_level
    from gapse_core.checkpoints import load_model
    from gapse_core.systems import Enhancer

    folder = tiny_checkpoint.parent
    enh = Enhancer("paragse", device="cpu", checkpoints={"codec": str(folder / "codec-small.pt"),
                                                          "paragse": str(folder / "paragse-small.pt")})
    x = speech16k[:16000]
    res = enh.enhance(x, 16000)
    assert set(res.branches) == {"generative"} and res.final is res.branches["generative"]
    codec, predictor = load_model(folder / "codec-small.pt")[0], load_model(folder / "paragse-small.pt")[0]
    level = local_level(x, 16000)
    gain = 0.1 / float(np.sqrt(np.mean((x / level) ** 2)))
    xt = torch.from_numpy(x / level * gain).float()[None]
    with torch.inference_mode():
        ref = codec.decode(predictor.predict(xt, codec.tokens(xt)), len(x))[0].numpy() / gain * level
    np.testing.assert_allclose(res.final, ref, rtol=1e-3, atol=1e-5)
