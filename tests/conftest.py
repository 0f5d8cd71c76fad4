"""Shared fixtures: audio made in the test (espeak-ng speech, tones, noise) and tiny checkpoints."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gapse_core.data import synthetic


def espeak(text: str, fs: int = 16000, voice: str = "en") -> np.ndarray:
    """Speech from espeak-ng (installed by .ci/run), resampled to ``fs``, peak 0.5."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (apt-get install espeak-ng); .ci/run installs it")
    return synthetic.espeak(text, fs, voice)


@pytest.fixture(scope="session")
def speech16k() -> np.ndarray:
    return espeak("The quick brown fox jumps over the lazy dog. Speech enhancement removes the noise.")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """A miniature ../shared/data: 12 LibriSpeech-named harmonic "speakers", 8 noise files, 3 RIRs."""
    return synthetic.make_corpus(tmp_path_factory.mktemp("data"), speech="harmonic")


def _tiny_configs():
    from gapse_core.models.codec import CodecConfig
    from gapse_core.models.paragse import ParaGSEConfig
    from gapse_core.nn.conformer import ConformerConfig
    from gapse_core.nn.quantizers import QuantizerConfig
    from gapse_core.nn.vocos import VocosConfig

    codec = CodecConfig(encoder=VocosConfig(input_dim=80, dim=16, intermediate_dim=32, n_layers=1),
                        quantizer=QuantizerConfig(dim=8, streams=2, codebook_size=16),
                        decoder=VocosConfig(input_dim=8, dim=16, intermediate_dim=32, n_layers=1))
    block = ConformerConfig(dim=16, heads=2, n_layers=1, kernel_size=5)
    paragse = ParaGSEConfig(n_fft=64, channels=16, lstm_hidden=16, shared=block, streams=2, codebook_size=16,
                            token_embedding=8, head_lstm=8, head=block)
    return codec, paragse


TINY_CODEC, TINY_PARAGSE = _tiny_configs()  # a group-VQ codec (2 x 16 codes) and a ParaGSE that fits it


def _tiny_hybrid_configs():
    from dataclasses import replace

    from gapse_core.config import load_yaml
    from gapse_core.nn.quantizers import QuantizerConfig
    from gapse_core.train.hybrid import HybridStageConfig

    rvq = replace(TINY_CODEC, quantizer=QuantizerConfig(kind="residual", dim=8, streams=2, codebook_size=16))
    stage = load_yaml(HybridStageConfig, Path(__file__).resolve().parent.parent / "configs" / "hybrid" / "tiny.yaml")
    return rvq, stage.model


TINY_RVQ_CODEC, TINY_HYBRID = _tiny_hybrid_configs()  # a residual-VQ codec (2 x 16 codes) and the hybrid branch


def _tiny_fusion_configs():
    from gapse_core.models.mask_fusion import MaskFusionConfig
    from gapse_core.models.postnet import PostNetConfig
    from gapse_core.models.quality import QualityConfig
    from gapse_core.nn.tfgridnet import TFGridNetConfig

    net = TFGridNetConfig(in_channels=6, out_channels=1, emb_dim=4, lstm_hidden=4, n_layers=1, n_heads=1)
    post = TFGridNetConfig(in_channels=12, out_channels=6, emb_dim=4, lstm_hidden=4, n_layers=1, n_heads=1)
    return (MaskFusionConfig(net=net), QualityConfig(n_mels=16, channels=8, layers=1, gru_hidden=8),
            PostNetConfig(net=post))


TINY_FUSION, TINY_QUALITY, TINY_POSTNET = _tiny_fusion_configs()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """Randomly initialised tiny checkpoints under the shipped names (``predictor-small.pt``, the
    GAP generative branch's ``dewavlm-small``, ``adapter-small``, ``vocoder-small``, ParaGSE's
    ``codec-small``, ``paragse-small``, the fusion networks, ``quality-small`` and ``postnet-gap-small``)
    in their own folder."""
    import torch

    from gapse_core.checkpoints import save_model
    from gapse_core.models.predictor import Predictor, PredictorConfig
    from gapse_core.nn.tfgridnet import TFGridNetConfig

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ckpt")
    model = Predictor(PredictorConfig(net=TFGridNetConfig(emb_dim=8, lstm_hidden=8, n_layers=1)))
    save_model(folder / "predictor-small.pt", model, "predictor", {"note": "random weights for tests"})
    # the generative branch's parts, tiny and random, so the demo and CLI can run `gap-generative` too
    from gapse_core.models.adapter import Adapter, AdapterConfig
    from gapse_core.models.codec import Codec
    from gapse_core.models.paragse import ParaGSE
    from gapse_core.models.ssl import SSLConfig, SSLEncoder
    from gapse_core.models.vocoder import Vocoder, VocoderConfig
    from gapse_core.nn.vocos import VocosConfig

    vocos = VocosConfig(input_dim=16, dim=16, intermediate_dim=32, n_layers=1)
    ssl = SSLEncoder(SSLConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32, conv_dim=16,
                               conv_pos_kernel=8, conv_pos_groups=4))
    save_model(folder / "dewavlm-small.pt", ssl, "ssl", {"note": "random weights for tests"})
    save_model(folder / "adapter-small.pt", Adapter(AdapterConfig(vocos)), "adapter", {"note": "random weights"})
    save_model(folder / "vocoder-small.pt", Vocoder(VocoderConfig(vocos)), "vocoder", {"note": "random weights"})
    # ParaGSE's codec and token predictor (configs/codec/tiny.yaml, configs/paragse/tiny.yaml sizes)
    save_model(folder / "codec-small.pt", Codec(TINY_CODEC), "codec", {"note": "random weights"})
    save_model(folder / "paragse-small.pt", ParaGSE(TINY_PARAGSE), "paragse", {"note": "random weights"})
    # the mask-fusion networks of paragse-fusion and gap-fusion, and the learned quality predictor
    from gapse_core.models.mask_fusion import MaskFusion
    from gapse_core.models.quality import QualityPredictor

    for name in ("fusion-paragse-small", "fusion-gap-small", "fusion-hybrid-small"):
        save_model(folder / f"{name}.pt", MaskFusion(TINY_FUSION), "mask_fusion", {"note": "random weights"})
    save_model(folder / "quality-small.pt", QualityPredictor(TINY_QUALITY), "quality", {"note": "random weights"})
    # gap-urgenet's PostNet, with a random (not the identity's zero) head so its output is its own
    from gapse_core.models.postnet import PostNet

    postnet = PostNet(TINY_POSTNET)
    torch.nn.init.normal_(postnet.net.head.weight, std=0.1)
    save_model(folder / "postnet-gap-small.pt", postnet, "postnet", {"note": "random weights"})
    # the hybrid system's generative branch (token LM + DPRNN over the 16-dim DeWavLM above) and its codec
    from gapse_core.models.hybrid_generative import HybridBranch

    save_model(folder / "codec-rvq-small.pt", Codec(TINY_RVQ_CODEC), "codec", {"note": "random weights"})
    save_model(folder / "hybrid-small.pt", HybridBranch(TINY_HYBRID), "hybrid", {"note": "random weights"})
    return folder / "predictor-small.pt"


BAD_INPUTS = {  # file name -> the reason its one-line error must give
    "empty.wav": "empty", "zero.wav": "zero length", "text.wav": "not a readable audio file",
    "nan.wav": "NaN", "r384k.wav": "384000 Hz", "r4k.wav": "4000 Hz",
}


def write_bad_inputs(folder: Path) -> dict[str, str]:
    """Write every kind of bad input into ``folder``; returns ``BAD_INPUTS``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.wav").write_bytes(b"")
    sf.write(folder / "zero.wav", np.zeros(0), 16000)
    (folder / "text.wav").write_text("this is not audio\n")
    sf.write(folder / "nan.wav", np.full(1600, np.nan, np.float32), 16000, subtype="FLOAT")
    sf.write(folder / "r384k.wav", np.zeros(38400), 384000)
    sf.write(folder / "r4k.wav", np.zeros(400), 4000)
    return dict(BAD_INPUTS)


def stderr_on_a_terminal(args: list, env: dict, cwd: Path, timeout: float = 300) -> tuple[int, bytes]:
    """Run ``python -m gapse_core.cli ARGS`` with stderr on a pseudo-terminal of 120 columns (as a
    user's terminal): ``(exit code, everything written to it)``; stdout is discarded."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "gapse_core.cli", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=follower, cwd=cwd, env=env)
    os.close(follower)
    terminal = b""
    while True:  # read while it runs: Linux drops what is left in a pseudo-terminal once its writer exits
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child has exited and closed the terminal
            break
        if not chunk:
            break
        terminal += chunk
    os.close(leader)
    return proc.wait(timeout=timeout), terminal


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
