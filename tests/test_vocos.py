import torch

from gapse_core.nn.vocos import ISTFTHead, VocosBackbone, VocosConfig

CFG = VocosConfig(input_dim=12, dim=16, intermediate_dim=32, n_layers=2)


def test_backbone_keeps_the_frame_rate():
    torch.manual_seed(0)
    net = VocosBackbone(CFG)
    h = net(torch.randn(2, 12, 37))
    assert h.shape == (2, 37, 16)
    assert all(torch.allclose(b.gamma, torch.full((16,), 0.5)) for b in net.blocks)  # layer scale 1/N


def test_head_makes_hop_samples_per_frame():
    head = ISTFTHead(16, n_fft=64, hop=16)
    y = head(torch.randn(3, 25, 16))
    assert y.shape == (3, 25 * 16) and torch.isfinite(y).all()


def test_head_can_be_taught_a_tone():
    """A few hundred Adam steps fit a 1 kHz tone from constant frames: magnitude and phase are learnable."""
    torch.manual_seed(0)
    fs, hop, frames = 8000, 32, 40
    t = torch.arange(frames * hop) / fs
    target = 0.5 * torch.sin(2 * torch.pi * 1000 * t)[None]
    net = VocosBackbone(VocosConfig(input_dim=4, dim=16, intermediate_dim=32, n_layers=1))
    head = ISTFTHead(16, n_fft=128, hop=hop)
    x = torch.randn(1, 4, frames)
    opt = torch.optim.Adam([*net.parameters(), *head.parameters()], lr=1e-2)
    first = None
    for _ in range(300):
        loss = (head(net(x)) - target)[:, 128:-128].pow(2).mean()
        first = first or loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first


def _one_bin_head(phase: str, k: int, n_fft: int = 64, hop: int = 16) -> ISTFTHead:
    """A head whose every frame is bin ``k`` alone at magnitude 1 with phase value 0."""
    head = ISTFTHead(4, n_fft=n_fft, hop=hop, phase=phase)
    with torch.no_grad():
        head.out.weight.zero_()
        head.out.bias.zero_()
        head.out.bias[: n_fft // 2 + 1] = -30.0  # log-magnitudes: nothing ...
        head.out.bias[k] = 0.0  # ... but bin k
    return head


def _sinusoid_residual(y: torch.Tensor, cycles_per_sample: float) -> float:
    """Energy of ``y`` left after the least-squares fit of one sinusoid, as a fraction of ``y``'s."""
    n = torch.arange(len(y), dtype=torch.float64)
    basis = torch.stack([torch.cos(2 * torch.pi * cycles_per_sample * n), torch.sin(2 * torch.pi * cycles_per_sample * n)], 1)
    y = y.double()
    fit = basis @ torch.linalg.lstsq(basis, y[:, None]).solution
    return float((y - fit[:, 0]).pow(2).sum() / y.pow(2).sum())


def test_a_steady_increment_head_makes_one_sinusoid_and_an_absolute_one_repeats_its_frames():
    """Bin 5 of a 64-point STFT with hop 16 advances 1.25 cycles a frame: integrating the nominal
    advance gives that bin's sinusoid throughout; constant absolute phases give a signal that
    repeats every hop (the frame-rate buzz) and is no sinusoid."""
    n_fft, hop, k, frames = 64, 16, 5, 40
    x = torch.zeros(1, frames, 4)
    with torch.no_grad():
        inc = _one_bin_head("increment", k)(x)[0, n_fft: -n_fft]
        rot = _one_bin_head("rotating", k)(x)[0, n_fft: -n_fft]
        ab = _one_bin_head("absolute", k)(x)[0, n_fft: -n_fft]
    assert inc.abs().max() > 0.01 and ab.abs().max() > 0.01
    assert _sinusoid_residual(inc, k / n_fft) < 1e-6
    assert torch.allclose(rot, inc, atol=1e-5)  # with no deviation both are the nominal advance
    assert _sinusoid_residual(ab, k / n_fft) > 0.1
    assert torch.allclose(ab[hop:], ab[:-hop], atol=1e-6)  # periodic in the hop
    assert not torch.allclose(inc[hop:], inc[:-hop], atol=1e-3)


def test_rotating_phase_is_absolute_phase_relative_to_the_nominal_advance():
    """The same head weights in ``rotating`` mode equal an ``absolute`` head whose phase outputs
    have the nominal advance added frame by frame."""
    torch.manual_seed(0)
    n_fft, hop, frames = 64, 16, 9
    rot = ISTFTHead(4, n_fft=n_fft, hop=hop, phase="rotating")
    x = torch.randn(2, frames, 4)
    with torch.no_grad():
        log_mag, d = rot.out(x).transpose(1, 2).chunk(2, dim=1)
        t = torch.arange(1, frames + 1)
        k = torch.arange(n_fft // 2 + 1)[:, None]
        expect = torch.polar(torch.exp(log_mag).clamp(max=1e2), d + 2 * torch.pi * k * hop * t / n_fft)
        got = rot.spectrum(x)
    assert torch.allclose(got, expect, atol=1e-4)


def test_an_unknown_phase_kind_is_refused():
    import pytest

    with pytest.raises(ValueError, match="increment"):
        ISTFTHead(4, n_fft=64, hop=16, phase="relative")
