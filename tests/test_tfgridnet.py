import pytest
import torch
import torch.nn.functional as F

from gapse_core.models.predictor import Predictor, PredictorConfig
from gapse_core.nn.tfgridnet import GridRNN, TFGridNet, TFGridNetConfig

TINY = TFGridNetConfig(emb_dim=8, lstm_hidden=8, n_layers=1, n_heads=2, attn_dim=2)


@pytest.mark.parametrize("fs", [8000, 16000, 22050, 48000])
def test_one_model_serves_every_rate(fs):
    torch.manual_seed(0)
    model = Predictor(PredictorConfig(net=TINY)).eval()
    x = torch.randn(2, fs // 4)
    with torch.no_grad():
        y = model(x, fs)
        spec, scale = model(x, fs, spectrum=True)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert spec.shape[1] == model.stft.n_bins(fs)
    assert scale.shape == (2, 1)


def test_parameters_do_not_depend_on_rate():
    # no layer is sized by the number of bins: the same state dict fits every rate
    a, b = TFGridNet(TINY), TFGridNet(TINY)
    b.load_state_dict(a.state_dict())
    for f in (65, 129, 769):
        x = torch.randn(1, 2, 10, f)
        assert torch.equal(a(x), b(x))


@pytest.mark.parametrize("ks,hs", [(4, 4), (4, 1), (3, 2)])
def test_grid_rnn_fold_equals_conv_transpose(ks, hs):
    """The linear+overlap-add fold is exactly ConvTranspose1d(2H, D, ks, stride=hs)."""
    torch.manual_seed(0)
    cfg = TFGridNetConfig(emb_dim=6, emb_ks=ks, emb_hs=hs, lstm_hidden=5)
    rnn = GridRNN(cfg)
    length = ks + 3 * hs
    x = torch.randn(2, 3, length, 6)
    got = rnn(x)
    # reference path written the TF-GridNet way: unfold -> LSTM -> ConvTranspose1d
    conv = torch.nn.ConvTranspose1d(10, 6, ks, stride=hs)
    with torch.no_grad():
        conv.weight.copy_(rnn.fold.weight.view(ks, 6, 10).permute(2, 1, 0))
        conv.bias.copy_(rnn.fold.bias.view(ks, 6)[0])
    h = rnn.norm(x).reshape(6, length, 6).transpose(1, 2)  # [N, D, L]
    h = F.unfold(h.unsqueeze(-1), (ks, 1), stride=(hs, 1))  # [N, D*ks] channel-major
    n = h.shape[-1]
    h = h.view(6, 6, ks, n).permute(0, 3, 2, 1).reshape(6, n, ks * 6)  # ks-major like GridRNN
    h, _ = rnn.rnn(h)
    fb = rnn.fold.bias.view(ks, 6)
    if not torch.allclose(fb, fb[0:1].expand_as(fb)):
        # ConvTranspose1d has one bias per channel; compare without biases
        rnn.fold.bias.data.zero_()
        conv.bias.data.zero_()
        got = rnn(x)
    ref = conv(h.transpose(1, 2)).transpose(1, 2).reshape(2, 3, length, 6)
    assert torch.allclose(got, x + ref, atol=1e-5)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = Predictor(PredictorConfig(net=TINY))
    x = torch.randn(2, 8000)
    model(x, 16000).pow(2).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_level_follows_the_input():
    torch.manual_seed(0)
    model = Predictor(PredictorConfig(net=TINY)).eval()
    x = torch.randn(1, 8000)
    with torch.no_grad():
        a, b = model(x, 16000), model(1e-3 * x, 16000)
    assert torch.allclose(1e-3 * a, b, rtol=1e-3, atol=1e-7)
    with torch.no_grad():
        silent = model(torch.zeros(1, 8000), 16000)
    assert torch.isfinite(silent).all() and silent.abs().max() < 1e-3


def test_a_deeper_net_loads_a_shallower_one_as_identity_blocks_and_then_learns_with_them():
    torch.manual_seed(0)
    small = Predictor(PredictorConfig(net=TFGridNetConfig(emb_dim=8, lstm_hidden=8, n_layers=1, n_heads=2, attn_dim=2)))
    deep = Predictor(PredictorConfig(net=TFGridNetConfig(emb_dim=8, lstm_hidden=8, n_layers=3, n_heads=2, attn_dim=2)))
    state = small.state_dict()
    deep.load_state_dict(state)  # strict: the two missing blocks are filled in as identities
    assert set(state) == set(small.state_dict())  # the caller's dict is left alone
    x = 0.1 * torch.randn(2, 8000)
    with torch.no_grad():
        y_small, y_deep = small(x, 16000), deep(x, 16000)
    assert torch.equal(y_small, y_deep)
    # the new blocks are not dead: their zeroed layers get gradients, so training moves them
    loss = (deep(x, 16000) - x).pow(2).mean()
    loss.backward()
    assert deep.net.blocks[2].intra.fold.weight.grad.abs().sum() > 0
    assert deep.net.blocks[2].attn.proj[-1].weight.grad.abs().sum() > 0
    # any other mismatch still fails: a missing middle block, or a shallower net receiving deeper weights
    holes = {k: v for k, v in deep.state_dict().items() if ".blocks.1." not in k}
    with pytest.raises(RuntimeError, match="blocks.1"):
        deep.load_state_dict(holes)
    with pytest.raises(RuntimeError, match="blocks.1"):
        small.load_state_dict(deep.state_dict())
