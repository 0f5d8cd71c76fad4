"""Parameters and multiply-accumulates per second of audio of a checkpoint, at several rates.

The generative branch's parts (SSL encoder, adapter, vocoder) run at 16 kHz / 50 Hz frames
whatever the input rate (the branch resamples), so their MACs per second do not depend on it.

MACs: ``torch.utils.flop_counter`` for convolutions, linear layers and attention (FLOPs / 2),
plus the LSTMs and GRUs counted by hand (they run through kernels the counter does not see):
per step and direction ``4 * H * (input + H)`` MACs (LSTM; ``3 * ...`` for a GRU).

    python benchmarks/model_size.py [CHECKPOINT] [--rates 8000,16000,48000]
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from gapse_core.checkpoints import load_model


def _runner(model: torch.nn.Module, seconds: float, fs: int):
    """A call of ``model`` on ``seconds`` of (random) input, whatever its kind."""
    from gapse_core.models.adapter import Adapter
    from gapse_core.models.codec import Codec
    from gapse_core.models.hybrid_generative import HybridBranch
    from gapse_core.models.mask_fusion import MaskFusion
    from gapse_core.models.paragse import ParaGSE
    from gapse_core.models.postnet import PostNet
    from gapse_core.models.quality import QualityPredictor
    from gapse_core.models.ssl import SSLEncoder, frames
    from gapse_core.models.vocoder import Vocoder

    if isinstance(model, SSLEncoder):
        wave = torch.randn(1, int(seconds * 16000))
        return lambda: model.centred(wave)
    t = frames(int(seconds * 16000)) + 1
    if isinstance(model, Adapter):
        x = torch.randn(1, t, model.cfg.backbone.input_dim)
        return lambda: model(x, x)
    if isinstance(model, Vocoder):
        x = torch.randn(1, t, model.cfg.backbone.input_dim)
        return lambda: model(x)
    if isinstance(model, Codec):  # encode, quantize, decode (16 kHz)
        wave = torch.randn(1, int(seconds * 16000)) * 0.1
        return lambda: model(wave)
    if isinstance(model, ParaGSE):  # one parallel pass over all groups (16 kHz)
        wave = torch.randn(1, int(seconds * 16000)) * 0.1
        codes = torch.randint(0, model.cfg.codebook_size, (1, t, model.cfg.streams))
        return lambda: model(wave, codes)
    if isinstance(model, HybridBranch):  # greedy decoding of one token per 20 ms, then the mask (16 kHz)
        wave = torch.randn(1, int(seconds * 16000)) * 0.1
        ssl = torch.randn(1, t, model.cfg.lm.ssl_dim)
        return lambda: model.enhance_16k(wave, ssl)
    if isinstance(model, QualityPredictor):  # 16 kHz
        wave = torch.randn(1, int(seconds * 16000)) * 0.1
        return lambda: model(wave)
    if isinstance(model, PostNet):  # both branches at 48 kHz, whatever the input rate
        wave = torch.randn(1, int(seconds * PostNet.rate)) * 0.1
        return lambda: model(wave, wave)
    wave = torch.randn(1, int(seconds * fs))
    if isinstance(model, MaskFusion):  # noisy, predictive and generative outputs at the input rate
        return lambda: model(wave, wave, wave, fs)
    return lambda: model(wave, fs)


def lstm_macs(model: torch.nn.Module, run) -> int:
    """Count LSTM and GRU MACs of ``run()`` by recording each call's input shape."""
    total = 0

    def hook(mod: torch.nn.LSTM | torch.nn.GRU, inputs, _out) -> None:
        nonlocal total
        x = inputs[0]
        n, steps = (x.shape[0], x.shape[1]) if mod.batch_first else (x.shape[1], x.shape[0])
        dirs = 2 if mod.bidirectional else 1
        size_in = mod.input_size
        for _layer in range(mod.num_layers):
            gates = 4 if isinstance(mod, torch.nn.LSTM) else 3
            total += n * steps * dirs * gates * mod.hidden_size * (size_in + mod.hidden_size)
            size_in = mod.hidden_size * dirs

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (torch.nn.LSTM, torch.nn.GRU))]
    with torch.no_grad():
        run()
    for h in handles:
        h.remove()
    return total


def macs_per_second(model: torch.nn.Module, fs: int, seconds: float = 4.0) -> float:
    run = _runner(model, seconds, fs)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        run()
    return (counter.get_total_flops() / 2 + lstm_macs(model, run)) / seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint", nargs="?", default="predictor-small")
    ap.add_argument("--rates", default="8000,16000,48000")
    args = ap.parse_args()
    model, _ = load_model(args.checkpoint)
    print(f"{args.checkpoint}: {sum(p.numel() for p in model.parameters()):,} parameters")
    for fs in (int(r) for r in args.rates.split(",")):
        print(f"  {fs} Hz: {macs_per_second(model, fs) / 1e9:.2f} GMAC per second of audio")


if __name__ == "__main__":
    main()
