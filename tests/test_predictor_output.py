import pytest
import torch

from gapse_core.models.predictor import Predictor, PredictorConfig
from gapse_core.nn.tfgridnet import TFGridNetConfig


TINY_NET = TFGridNetConfig(emb_dim=8, lstm_hidden=8, n_layers=1)


@pytest.mark.parametrize("output,passes_input", [("mask", True), ("deep_filter", True), ("mapping", False)])
def test_only_the_filter_outputs_start_as_identity(output, passes_input):
    torch.manual_seed(0)
    cfg = PredictorConfig(output=output, df_order=3, df_lookahead=1, net=TINY_NET)
    model = Predictor(cfg).eval()
    x = torch.randn(1, 16000)
    with torch.no_grad():
        similarity = torch.nn.functional.cosine_similarity(x, model(x, 16000)).item()
    # the untrained mask and deep-filter models pass their input through (up to small random
    # head weights); the mapping model starts from an unrelated spectrum
    assert (similarity > 0.9) if passes_input else (abs(similarity) < 0.5)


def test_unknown_output_is_refused():
    with pytest.raises(ValueError, match="output must be"):
        Predictor(PredictorConfig(output="residual"))


def test_unusable_lookahead_is_refused():
    with pytest.raises(ValueError, match="df_lookahead"):
        Predictor(PredictorConfig(output="deep_filter", df_order=2, df_lookahead=2, net=TINY_NET))


@pytest.mark.parametrize("tap,shift", [(0, 2), (1, 1), (3, -1)])
def test_deep_filter_tap_k_takes_its_frame(tap, shift):
    """df_order 4, lookahead 1: taps 0..3 read frames t-2, t-1, t, t+1 of the noisy spectrum."""
    model = Predictor(PredictorConfig(output="deep_filter", df_order=4, df_lookahead=1, net=TINY_NET)).eval()
    assert model.cfg.current_tap == 2
    with torch.no_grad():  # a network that always outputs 1 + 0j on `tap` and 0 on the others
        model.net.head.weight.zero_()
        model.net.head.bias.zero_()
        model.net.head.bias[2 * tap] = 1.0
        x = torch.randn(1, 8000, generator=torch.Generator().manual_seed(1))
        out, scale = model.forward_spec(x, 16000)
    noisy = model.stft.stft(x / scale, 16000)  # [1, F, T]
    t = noisy.shape[-1]
    want = torch.zeros_like(noisy)
    if shift > 0:
        want[..., shift:] = noisy[..., : t - shift]
    else:
        want[..., : t + shift] = noisy[..., -shift:]
    assert torch.allclose(out, want, atol=1e-6)
    assert not torch.allclose(out, noisy, atol=1e-2)  # a frame shift, not the identity


def test_a_mask_model_loads_into_a_deep_filter_and_computes_the_same():
    torch.manual_seed(0)
    mask = Predictor(PredictorConfig(output="mask", net=TINY_NET)).eval()
    with torch.no_grad():  # a head far from the identity, so a misplaced tap would show
        mask.net.head.weight.normal_()
        mask.net.head.bias.normal_()
    deep = Predictor(PredictorConfig(output="deep_filter", df_order=5, df_lookahead=2, net=TINY_NET)).eval()
    deep.load_state_dict(mask.state_dict())  # strict: the mask becomes tap 2, the others zero
    assert deep.net.head.weight.shape[1] == 10 and deep.net.head.bias[4:6].equal(mask.net.head.bias)
    x = 0.1 * torch.randn(1, 16000, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, b = deep(x, 16000), mask(x, 16000)
    assert torch.allclose(a, b, atol=1e-6) and b.abs().max() > 1e-2
