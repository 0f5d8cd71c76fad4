"""Shared fixtures: audio made in the test (espeak-ng speech, tones, noise) and tiny checkpoints."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gapse_core.audio.resample import resample


def espeak(text: str, fs: int = 16000, voice: str = "en") -> np.ndarray:
    """Speech from espeak-ng (installed by .ci/run), resampled to ``fs``."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.fail("espeak-ng is not installed (apt-get install espeak-ng); .ci/run installs it")
    wav = subprocess.run([exe, "-v", voice, "-s", "150", "--stdout", text], check=True, capture_output=True).stdout
    import io

    x, sr = sf.read(io.BytesIO(wav), dtype="float32")
    x = resample(x, sr, fs)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


@pytest.fixture(scope="session")
def speech16k() -> np.ndarray:
    return espeak("The quick brown fox jumps over the lazy dog. Speech enhancement removes the noise.")


def harmonic(seconds: float, fs: int, f0: float, seed: int) -> np.ndarray:
    """A voiced, speech-like signal: harmonics of a wobbling f0 under a syllable-rate envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    f = f0 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(f) / fs
    x = sum(np.sin(k * phase) / k for k in range(1, 12) if k * f0 < fs / 2.2)
    env = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)), 0, None)
    return (0.3 * x * env / np.max(np.abs(x))).astype(np.float32)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """A miniature ../shared/data: 12 LibriSpeech-named speakers, noise files, two RIRs."""
    root = tmp_path_factory.mktemp("data")
    for s in range(12):
        for u in range(2):
            x = harmonic(2.5, 16000, 90 + 12 * s, seed=100 * s + u)
            path = root / "speech" / "mini" / f"{1000 + s}-1-{u:04d}.flac"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, x, 16000)
    rng = np.random.default_rng(0)
    for i in range(8):
        path = root / "noise" / "mini" / f"noise_{i}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.1 * rng.standard_normal(32000 * 3)).astype(np.float32), 32000)
    for i in range(3):
        path = root / "rir" / f"room_{i}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        n = 8000
        rir = rng.standard_normal(n) * np.exp(-np.arange(n) / (800 + 400 * i))
        rir[0] = 4.0
        sf.write(path, (rir / np.max(np.abs(rir))).astype(np.float32), 16000)
    return root


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised tiny predictor saved as ``predictor-small.pt`` in its own folder."""
    import torch

    from gapse_core.checkpoints import save_model
    from gapse_core.models.predictor import Predictor, PredictorConfig
    from gapse_core.nn.tfgridnet import TFGridNetConfig

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ckpt")
    model = Predictor(PredictorConfig(net=TFGridNetConfig(emb_dim=8, lstm_hidden=8, n_layers=1)))
    save_model(folder / "predictor-small.pt", model, "predictor", {"note": "random weights for tests"})
    return folder / "predictor-small.pt"


BAD_INPUTS = {  # file name -> the reason its one-line error must give
    "empty.wav": "empty", "zero.wav": "zero length", "text.wav": "not a readable audio file",
    "nan.wav": "NaN", "r96k.wav": "96000 Hz", "r4k.wav": "4000 Hz",
}


def write_bad_inputs(folder: Path) -> dict[str, str]:
    """Write every kind of bad input into ``folder``; returns ``BAD_INPUTS``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.wav").write_bytes(b"")
    sf.write(folder / "zero.wav", np.zeros(0), 16000)
    (folder / "text.wav").write_text("this is not audio\n")
    sf.write(folder / "nan.wav", np.full(1600, np.nan, np.float32), 16000, subtype="FLOAT")
    sf.write(folder / "r96k.wav", np.zeros(9600), 96000)
    sf.write(folder / "r4k.wav", np.zeros(400), 4000)
    return dict(BAD_INPUTS)


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
