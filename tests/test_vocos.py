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
